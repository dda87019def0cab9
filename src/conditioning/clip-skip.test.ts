import { describe, expect, it } from "vitest";
import { ClipSkipError, chooseLayers, maxClipSkip } from "./clip-skip.js";

const L = (n: number) => ({ encoder: "text_encoder" as const, numLayers: n });
const G = (n: number) => ({ encoder: "text_encoder_2" as const, numLayers: n });

describe("chooseLayers", () => {
  it.each([
    // family, clipSkip, expected [{index, LN}] — docs/conventions.md table with real layer counts
    ["sd1", [L(12)], 0, [[12, true]]],
    ["sd1", [L(12)], 1, [[11, true]]],
    ["sd1", [L(12)], 11, [[1, true]]],
    ["sd2", [L(23)], 0, [[23, true]]],
    ["sd2", [L(23)], 2, [[21, true]]],
    ["sdxl", [L(12), G(32)], 0, [[11, false], [31, false]]],
    ["sdxl", [L(12), G(32)], 2, [[9, false], [29, false]]],
    ["sdxl-refiner", [G(32)], 1, [[30, false]]],
  ] as const)("%s %j clipSkip %i", (family, encoders, c, want) => {
    const got = chooseLayers(family, encoders, c).map((l) => [l.hiddenStateIndex, l.finalLayerNorm]);
    expect(got).toEqual(want);
  });

  it("names the allowed range and never clamps", () => {
    expect(maxClipSkip("sd1", [L(12)])).toBe(11);
    expect(maxClipSkip("sdxl", [L(12), G(32)])).toBe(10);
    expect(() => chooseLayers("sd1", [L(12)], 12)).toThrow(ClipSkipError);
    expect(() => chooseLayers("sdxl", [L(12), G(32)], 11)).toThrow(/between 0 and 10/);
    expect(() => chooseLayers("sd1", [L(12)], -1)).toThrow(ClipSkipError);
    expect(() => chooseLayers("sd1", [L(12)], 1.5)).toThrow(ClipSkipError);
  });
});
