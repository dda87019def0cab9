import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { sniffImage } from "./image-sniff.js";

// sharp is used only to make sample files; the sniffer itself reads headers.
describe("sniffImage", () => {
  it.each(["png", "jpeg", "webp"] as const)("reads %s format and size", async (format) => {
    const bytes = await sharp({ create: { width: 37, height: 21, channels: 3, background: "#123456" } }).toFormat(format).toBuffer();
    expect(sniffImage(bytes)).toMatchObject({ widthPx: 37, heightPx: 21, mime: `image/${format}` });
  });
  it("refuses other bytes", () => {
    expect(sniffImage(new TextEncoder().encode("GIF89a......"))).toBeUndefined();
    expect(sniffImage(new Uint8Array(0))).toBeUndefined();
  });
});
