// encodeImage / decodeImage / decodeMask / resizeImage on small images built here.
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { decodeImage, decodeMask } from "./decode-image.js";
import { encodeImage } from "./encode-image.js";
import { readPngTextChunks } from "./png-text.js";
import { resizeImage } from "./resize-image.js";
import { ImageError, type RgbImage } from "./types.js";

function gradient(width: number, height: number): RgbImage {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 3;
      rgb[p] = (x * 255) / (width - 1);
      rgb[p + 1] = (y * 255) / (height - 1);
      rgb[p + 2] = ((x + y) * 255) / (width + height - 2);
    }
  return { rgb, width, height };
}

const meanAbsDiff = (a: Uint8Array, b: Uint8Array): number => a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0) / a.length;

describe("encodeImage + decodeImage", () => {
  const im = gradient(17, 9);
  it("PNG is lossless and deterministic", async () => {
    const a = await encodeImage(im.rgb, im.width, im.height, { format: "png" });
    const b = await encodeImage(im.rgb, im.width, im.height, { format: "png" });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    const back = await decodeImage(a);
    expect([back.width, back.height]).toEqual([17, 9]);
    expect(Buffer.from(back.rgb).equals(Buffer.from(im.rgb))).toBe(true);
  });
  it("PNG carries the parameters text, and the file still decodes", async () => {
    const parameters = "a red cube, (shiny:1.2)\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, Seed: 42";
    const png = await encodeImage(im.rgb, im.width, im.height, { format: "png", parameters });
    expect(readPngTextChunks(png)).toEqual({ parameters });
    const meta = await sharp(png).metadata();
    expect(meta.format).toBe("png");
    expect(Buffer.from((await decodeImage(png)).rgb).equals(Buffer.from(im.rgb))).toBe(true);
  });
  for (const format of ["jpeg", "webp"] as const) {
    it(`${format}: right size, close pixels, quality matters, parameters in EXIF`, async () => {
      const big = gradient(64, 48);
      const hi = await encodeImage(big.rgb, 64, 48, { format, quality: 95, parameters: "a cat\nSteps: 20" });
      const lo = await encodeImage(big.rgb, 64, 48, { format, quality: 20 });
      expect((await sharp(hi).metadata()).format).toBe(format);
      expect(lo.length).toBeLessThan(hi.length);
      const back = await decodeImage(hi);
      expect([back.width, back.height]).toEqual([64, 48]);
      expect(meanAbsDiff(back.rgb, big.rgb)).toBeLessThan(4);
      expect((await sharp(hi).metadata()).exif?.includes(Buffer.from("a cat\nSteps: 20"))).toBe(true);
    });
  }
  it("rejects bad sizes and qualities", async () => {
    await expect(encodeImage(new Uint8Array(5), 2, 2, { format: "png" })).rejects.toThrow(RangeError);
    await expect(encodeImage(im.rgb, im.width, im.height, { format: "jpeg", quality: 0 })).rejects.toThrow(RangeError);
  });
});

describe("decodeImage conversions (PIL convert('RGB'))", () => {
  it("drops alpha without compositing", async () => {
    const rgba = Buffer.from([200, 10, 10, 0, 10, 200, 10, 128, 10, 10, 200, 255, 1, 2, 3, 64]);
    const png = await sharp(rgba, { raw: { width: 2, height: 2, channels: 4 } }).png().toBuffer();
    const back = await decodeImage(png);
    expect([...back.rgb]).toEqual([200, 10, 10, 10, 200, 10, 10, 10, 200, 1, 2, 3]);
  });
  it("expands greyscale to RGB", async () => {
    const png = await sharp(Buffer.from([0, 77, 255, 128]), { raw: { width: 2, height: 2, channels: 1 } }).png().toBuffer();
    expect([...(await decodeImage(png)).rgb]).toEqual([0, 0, 0, 77, 77, 77, 255, 255, 255, 128, 128, 128]);
  });
  it("expands a palette PNG to its colours", async () => {
    const rgb = Buffer.from([255, 0, 0, 0, 0, 255, 0, 0, 255, 255, 0, 0]);
    const png = await sharp(rgb, { raw: { width: 2, height: 2, channels: 3 } }).png({ palette: true, colours: 4, dither: 0 }).toBuffer();
    expect((await sharp(png).metadata()).isPalette).toBe(true);
    expect([...(await decodeImage(png)).rgb]).toEqual([...rgb]);
  });
  it("fails clearly on undecodable, unsupported and oversized input", async () => {
    await expect(decodeImage(new Uint8Array())).rejects.toMatchObject({ code: "invalidImage" });
    await expect(decodeImage(Buffer.from("definitely not an image"))).rejects.toBeInstanceOf(ImageError);
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>');
    await expect(decodeImage(svg)).rejects.toMatchObject({ code: "unsupportedImageFormat" });
    const im = gradient(40, 30);
    const png = await encodeImage(im.rgb, 40, 30, { format: "png" });
    await expect(decodeImage(png, { maxBytes: 1 << 20, maxPixels: 1000, maxSidePx: 100 })).rejects.toMatchObject({ code: "imageTooLarge" });
    await expect(decodeImage(png, { maxBytes: 1 << 20, maxPixels: 10000, maxSidePx: 32 })).rejects.toMatchObject({ code: "imageTooLarge" });
    await expect(decodeImage(png, { maxBytes: 10, maxPixels: 10000, maxSidePx: 100 })).rejects.toMatchObject({ code: "imageTooLarge" });
    const truncated = png.subarray(0, png.length - 30);
    await expect(decodeImage(truncated)).rejects.toMatchObject({ code: "invalidImage" });
  });
});

describe("decodeMask (PIL convert('L'))", () => {
  it("keeps grey values and weights colours by ITU-R 601 luma in 16-bit fixed point", async () => {
    const rgb = Buffer.from([140, 140, 140, 255, 0, 0, 0, 255, 0, 0, 0, 255]);
    const png = await sharp(rgb, { raw: { width: 4, height: 1, channels: 3 } }).png().toBuffer();
    const luma = (r: number, g: number, b: number): number => (r * 19595 + g * 38470 + b * 7471 + 32768) >> 16;
    const m = await decodeMask(png);
    expect([m.width, m.height]).toEqual([4, 1]);
    expect([...m.grey]).toEqual([140, luma(255, 0, 0), luma(0, 255, 0), luma(0, 0, 255)]);
  });
});

describe("resizeImage", () => {
  it("stretches to the exact size (lanczos3) and keeps flat colour flat", async () => {
    const flat: RgbImage = { rgb: new Uint8Array(20 * 10 * 3).fill(90), width: 20, height: 10 };
    const out = await resizeImage(flat, 8, 16);
    expect([out.width, out.height, out.rgb.length]).toEqual([8, 16, 8 * 16 * 3]);
    expect(out.rgb.every((v) => v === 90)).toBe(true);
    const g = gradient(64, 64);
    expect(await resizeImage(g, 64, 64)).toBe(g);
    await expect(resizeImage(g, 0, 5)).rejects.toThrow(RangeError);
  });
});
