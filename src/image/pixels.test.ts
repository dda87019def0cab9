// latentsImageToRgb / imageToTensor / makeGrid on tensors and images built here.
import { describe, expect, it } from "vitest";
import { float32 } from "../tensor/tensor.js";
import { imageToTensor } from "./image-to-tensor.js";
import { latentsImageToRgb } from "./latents-image-to-rgb.js";
import { makeGrid } from "./make-grid.js";
import type { RgbImage } from "./types.js";

describe("latentsImageToRgb", () => {
  it("maps [-1, 1] to [0, 1] and 0..255, clamps, and lays out NHWC", () => {
    // [1, 3, 1, 2]: pixel 0 = (-1, 0, 1), pixel 1 = (-3, 3, 0.5)
    const x = float32([1, 3, 1, 2], [-1, -3, 0, 3, 1, 0.5]);
    const out = latentsImageToRgb(x);
    expect(out.np.shape).toEqual([1, 1, 2, 3]);
    expect([...out.np.data]).toEqual([0, 0.5, 1, 0, 1, 0.75]);
    expect([...out.rgb]).toEqual([0, 128, 255, 0, 255, 191]); // 127.5 → 128 (ties to even), 191.25 → 191
    expect([out.width, out.height]).toEqual([2, 1]);
  });
  it("rejects other shapes", () => {
    expect(() => latentsImageToRgb(float32([2, 3, 1, 1]))).toThrow(RangeError);
    expect(() => latentsImageToRgb(float32([1, 4, 1, 1]))).toThrow(RangeError);
  });
});

describe("imageToTensor", () => {
  it("gives NCHW 2·(u8/255) − 1", () => {
    const im: RgbImage = { rgb: Uint8Array.from([0, 255, 51, 255, 0, 102]), width: 2, height: 1 };
    const t = imageToTensor(im);
    expect(t.shape).toEqual([1, 3, 1, 2]);
    const f = (u: number): number => Math.fround(2 * Math.fround(u / 255) - 1);
    expect([...t.data]).toEqual([f(0), f(255), f(255), f(0), f(51), f(102)]);
  });
  it("round-trips through latentsImageToRgb for every 8-bit value", () => {
    const rgb = Uint8Array.from({ length: 256 * 3 }, (_, i) => Math.floor(i / 3));
    const back = latentsImageToRgb(imageToTensor({ rgb, width: 256, height: 1 }));
    expect(Buffer.from(back.rgb).equals(Buffer.from(rgb))).toBe(true);
  });
});

describe("makeGrid", () => {
  const solid = (w: number, h: number, v: number, label: string) => ({ rgb: new Uint8Array(w * h * 3).fill(v), width: w, height: h, label });
  it("places cells in rows with a rendered label under each", async () => {
    const cells = [solid(16, 16, 0, "c0"), solid(16, 16, 60, "c1"), solid(8, 16, 120, "c2")];
    const grid = await makeGrid(cells, 2, { labelHeightPx: 14, gapPx: 2 });
    expect([grid.width, grid.height]).toEqual([2 * 16 + 3 * 2, 2 * (16 + 14) + 3 * 2]);
    const px = (x: number, y: number): number[] => [...grid.rgb.subarray((y * grid.width + x) * 3, (y * grid.width + x) * 3 + 3)];
    expect(px(2, 2)).toEqual([0, 0, 0]); // cell 0 top-left
    expect(px(2 + 16 + 2 + 15, 2 + 15)).toEqual([60, 60, 60]); // cell 1 bottom-right
    expect(px(2 + 4, 2 + 30 + 2)).toEqual([120, 120, 120]); // cell 2, 8 wide, centred in a 16-wide cell
    expect(px(2, 2 + 30 + 2)).toEqual([255, 255, 255]); // background beside it
    // the label strip under cell 0 has dark (text) pixels; the empty 4th cell has none
    const darkIn = (x0: number, y0: number, w: number, h: number): number => {
      let n = 0;
      for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) if (px(x, y)[0]! < 128) n++;
      return n;
    };
    expect(darkIn(2, 18, 16, 14)).toBeGreaterThan(3);
    expect(darkIn(20, 50, 16, 14)).toBe(0);
  });
  it("rejects empty input and bad column counts", async () => {
    await expect(makeGrid([], 2)).rejects.toThrow(RangeError);
    await expect(makeGrid([solid(2, 2, 0, "a")], 0)).rejects.toThrow(RangeError);
  });
});
