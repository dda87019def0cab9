import * as zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import { crc32, insertPngText, readPngTextChunks, textChunk } from "./png-text.js";

/** A minimal valid 1×1 greyscale PNG assembled by hand (IHDR, IDAT, IEND). */
function tinyPng(): Uint8Array {
  const sig = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  const chunk = (type: string, data: Buffer): Buffer => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, "latin1");
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]);
  return Buffer.concat([sig, chunk("IHDR", ihdr), chunk("IDAT", zlib.deflateSync(Buffer.from([0, 128]))), chunk("IEND", Buffer.alloc(0))]);
}

describe("crc32", () => {
  it("agrees with zlib's crc32", () => {
    const zcrc = (zlib as unknown as { crc32?: (b: Uint8Array) => number }).crc32;
    const data = Buffer.from("IEND\u0000 parameters: a red cube, Steps: 20", "latin1");
    if (zcrc) expect(crc32(data)).toBe(zcrc(data));
    // The CRC of an empty IEND chunk is part of every PNG file: AE 42 60 82.
    expect(crc32(Buffer.from("IEND", "latin1"))).toBe(0xae426082);
  });
});

describe("PNG text chunks", () => {
  it("writes tEXt after IHDR and reads it back", () => {
    const png = insertPngText(tinyPng(), { parameters: "a cube\nSteps: 20, Seed: 1" });
    expect(Buffer.from(png.subarray(37, 41)).toString("latin1")).toBe("tEXt"); // 8 signature + 25 IHDR + 4 length
    expect(readPngTextChunks(png)).toEqual({ parameters: "a cube\nSteps: 20, Seed: 1" });
  });
  it("uses iTXt (UTF-8) for text outside Latin-1, and keeps Latin-1 in tEXt", () => {
    const text = "猫, café (smile:1.2) 🙂";
    const png = insertPngText(tinyPng(), { parameters: text, note: "café" });
    expect(Buffer.from(png).includes(Buffer.from("iTXt"))).toBe(true);
    expect(readPngTextChunks(png)).toEqual({ parameters: text, note: "café" });
  });
  it("reads compressed zTXt and iTXt written by others", () => {
    const z = Buffer.concat([Buffer.from("Comment\0\0", "latin1"), zlib.deflateSync(Buffer.from("zipped", "latin1"))]);
    const i = Buffer.concat([Buffer.from("Title\0\x01\0en\0\0", "latin1"), zlib.deflateSync(Buffer.from("ünï", "utf8"))]);
    const raw = (type: string, data: Buffer): Buffer => {
      const out = Buffer.alloc(12 + data.length);
      out.writeUInt32BE(data.length, 0);
      out.write(type, 4, "latin1");
      data.copy(out, 8);
      out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
      return out;
    };
    const base = tinyPng();
    const png = Buffer.concat([base.subarray(0, 33), raw("zTXt", z), raw("iTXt", i), base.subarray(33)]);
    expect(readPngTextChunks(png)).toEqual({ Comment: "zipped", Title: "ünï" });
  });
  it("rejects a corrupted chunk and a non-PNG stream", () => {
    const png = Buffer.from(insertPngText(tinyPng(), { parameters: "abc" }));
    png[45] = png[45]! ^ 0xff; // a byte inside the tEXt data
    expect(() => readPngTextChunks(png)).toThrow(/bad CRC/);
    expect(() => readPngTextChunks(Buffer.from("GIF89a"))).toThrow(/not a PNG/);
  });
  it("validates keywords", () => {
    expect(() => textChunk("", "x")).toThrow(RangeError);
    expect(() => textChunk("k".repeat(80), "x")).toThrow(RangeError);
  });
});
