import { describe, expect, it } from "vitest";
import { applyEmphasis } from "./emphasis.js";

describe("applyEmphasis (A1111 Original)", () => {
  it("leaves all-ones weights untouched", () => {
    const z = Float32Array.from([1, 2, 3, 4]);
    applyEmphasis(z, [1, 1], 2);
    expect([...z]).toEqual([1, 2, 3, 4]);
  });

  it("scales weighted rows relative to the others and restores the mean", () => {
    const z = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
    const before = mean(z);
    applyEmphasis(z, [1, 2, 1], 2);
    expect(mean(z)).toBeCloseTo(before, 5);
    // row 1 doubled relative to rows 0 and 2
    expect(z[2]! / z[0]!).toBeCloseTo((3 * 2) / 1, 5);
    expect(z[4]! / z[0]!).toBeCloseTo(5, 5);
  });
});
