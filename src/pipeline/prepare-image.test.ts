import { describe, expect, it } from "vitest";
import { encodeImage, type RgbImage } from "../image/index.js";
import { float32 } from "../tensor/tensor.js";
import { decodeSeedImage, downsampleMaskNearest, maskedImage, prepareMask, seedImageTensor } from "./prepare-image.js";
import { SeedImageError } from "./seed-image-error.js";

function grey(width: number, height: number, value: (x: number, y: number) => number): RgbImage {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) rgb.fill(value(x, y), (y * width + x) * 3, (y * width + x + 1) * 3);
  return { rgb, width, height };
}

async function rejection(p: Promise<unknown>): Promise<SeedImageError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(SeedImageError);
  return e as SeedImageError;
}

describe("prepareMask", () => {
  it("binarises at 0.5 of 255: 127 keeps, 128 repaints (the golden mask's 110 / 140 rings)", async () => {
    const values = [0, 110, 127, 128, 140, 255];
    const mask = await prepareMask(grey(6, 1, (x) => values[x]!), { width: 6, height: 1 }, 6, 1);
    expect(mask.shape).toEqual([1, 1, 1, 6]);
    expect([...mask.data]).toEqual([0, 0, 0, 1, 1, 1]);
  });

  it("uses PIL's luma for colour masks (pure red 76 → keep, pure green 150 → repaint)", async () => {
    const rgb = new Uint8Array([255, 0, 0, 0, 255, 0]);
    const mask = await prepareMask({ rgb, width: 2, height: 1 }, { width: 2, height: 1 }, 2, 1);
    expect([...mask.data]).toEqual([0, 1]);
  });

  it("decodes PNG bytes and resizes with the request size", async () => {
    const img = grey(16, 16, (x) => (x < 8 ? 0 : 255));
    const png = await encodeImage(img.rgb, 16, 16, { format: "png" });
    const mask = await prepareMask(png, { width: 16, height: 16 }, 8, 8);
    expect(mask.shape).toEqual([1, 1, 8, 8]);
    expect(mask.data[0]).toBe(0);
    expect(mask.data[7]).toBe(1);
  });

  it("refuses a mask of another size than the seed image, and undecodable bytes", async () => {
    const e = await rejection(prepareMask(grey(4, 4, () => 255), { width: 8, height: 4 }, 8, 8));
    expect(e.code).toBe("invalidMaskImage");
    expect(e.parameter).toBe("maskImage");
    expect((await rejection(prepareMask(new Uint8Array([1, 2, 3, 4]), { width: 4, height: 4 }, 8, 8))).code).toBe("invalidMaskImage");
  });
});

describe("seed image", () => {
  it("refuses undecodable and empty bytes with invalidSeedImage", async () => {
    expect((await rejection(decodeSeedImage(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0])))).code).toBe("invalidSeedImage");
    expect((await rejection(decodeSeedImage(new Uint8Array(0)))).code).toBe("invalidSeedImage");
  });

  it("maps 0 / 255 to −1 / 1 and resizes to the request size", async () => {
    const t = await seedImageTensor(grey(4, 2, (x) => (x < 2 ? 0 : 255)), 4, 2);
    expect(t.shape).toEqual([1, 3, 2, 4]);
    expect([...t.data.subarray(0, 4)]).toEqual([-1, -1, 1, 1]);
    expect((await seedImageTensor(grey(4, 2, () => 9), 8, 8)).shape).toEqual([1, 3, 8, 8]);
  });
});

describe("mask helpers", () => {
  it("downsamples nearest: pixel (8i, 8j) at factor 8, floor(i · 2.5) at 10 → 4", () => {
    const big = float32([1, 1, 16, 16], Array.from({ length: 256 }, (_, k) => k));
    expect([...downsampleMaskNearest(big, 2, 2).data]).toEqual([0, 8, 128, 136]);
    const row = float32([1, 1, 1, 10], Array.from({ length: 10 }, (_, k) => k));
    expect([...downsampleMaskNearest(row, 1, 4).data]).toEqual([0, 2, 5, 7]);
  });

  it("zeroes the repainted pixels of every channel", () => {
    const image = float32([1, 3, 1, 2], [0.5, -0.5, 0.25, -0.25, 1, -1]);
    const mask = float32([1, 1, 1, 2], [1, 0]);
    expect([...maskedImage(image, mask).data]).toEqual([0, -0.5, 0, -0.25, 0, -1]);
  });
});
