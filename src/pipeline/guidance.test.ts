import { describe, expect, it } from "vitest";
import { float32 } from "../tensor/tensor.js";
import { applyGuidance, rescaleGuidance, splitBatch } from "./guidance.js";

describe("guidance", () => {
  it("splits a CFG batch into its unconditional and conditional halves", () => {
    const [u, c] = splitBatch(float32([2, 2], [1, 2, 3, 4]));
    expect([...u.data]).toEqual([1, 2]);
    expect([...c.data]).toEqual([3, 4]);
    expect(u.shape).toEqual([1, 2]);
  });

  it("moves from the unconditional prediction towards the conditional one by the scale", () => {
    const u = float32([1, 3], [0, 1, -1]);
    const c = float32([1, 3], [1, 1, 1]);
    expect([...applyGuidance(u, c, 1).data]).toEqual([...c.data]);
    expect([...applyGuidance(u, c, 0).data]).toEqual([...u.data]);
    expect([...applyGuidance(u, c, 7.5).data]).toEqual([7.5, 1, 14]);
  });

  it("rescale 1 gives the text prediction's std; rescale 0 changes nothing", () => {
    const cfg = float32([1, 4], [0, 2, 4, 6]);
    const text = float32([1, 4], [0, 1, 2, 3]);
    expect([...rescaleGuidance(cfg, text, 0).data]).toEqual([...cfg.data]);
    const full = rescaleGuidance(cfg, text, 1);
    // cfg's std is twice text's, so a full rescale halves every value.
    expect([...full.data]).toEqual([0, 1, 2, 3]);
  });
});
