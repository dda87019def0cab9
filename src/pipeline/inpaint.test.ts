import { describe, expect, it } from "vitest";
import { float32 } from "../tensor/tensor.js";
import { blendKnown, inpaintUNetKind } from "./inpaint.js";
import { SeedImageError } from "./seed-image-error.js";

describe("inpainting helpers", () => {
  it("keeps the known latents exactly where the mask is 0 and the generated ones where it is 1, in every channel", () => {
    const known = float32([1, 2, 1, 2], [0.1, 0.2, 0.3, 0.4]);
    const generated = float32([1, 2, 1, 2], [5, 6, 7, 8]);
    const mask = float32([1, 1, 1, 2], [0, 1]);
    expect([...blendKnown(known, generated, mask).data]).toEqual([Math.fround(0.1), 6, Math.fround(0.3), 8]);
  });

  it("tells a 9-channel inpainting UNet from a plain one and refuses others", () => {
    expect(inpaintUNetKind(9, 4)).toBe("concat");
    expect(inpaintUNetKind(4, 4)).toBe("blend");
    expect(() => inpaintUNetKind(8, 4)).toThrow(SeedImageError);
  });
});
