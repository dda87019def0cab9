// The VAE's decoded image → what diffusers returns: `image_np` (output_type "np") and the 8-bit pixels of "pil".
//   image_np = clamp(x / 2 + 0.5, 0, 1) in float32, NHWC;  uint8 = round_half_even(image_np · 255)  (numpy_to_pil)
import { tensor, type Float32Tensor } from "../tensor/tensor.js";
import type { RgbImage } from "./types.js";

export interface DecodedImage extends RgbImage {
  /** [1, H, W, 3] float32 in [0, 1]. */
  readonly np: Float32Tensor;
}

const fr = Math.fround;

/** numpy's `round`: to nearest, ties to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function latentsImageToRgb(image: Float32Tensor /* [1, 3, H, W] in [-1, 1] */): DecodedImage {
  const [batch, channels, height, width] = image.shape;
  if (image.shape.length !== 4 || batch !== 1 || channels !== 3) {
    throw new RangeError(`latentsImageToRgb: expected [1, 3, H, W], got [${image.shape.join(", ")}]`);
  }
  const h = height!, w = width!, plane = h * w;
  const np = new Float32Array(plane * 3); // [1, H, W, 3]
  const rgb = new Uint8Array(plane * 3);
  const x = image.data;
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < plane; p++) {
      const v = Math.min(1, Math.max(0, fr(fr(x[c * plane + p]! / 2) + 0.5)));
      np[p * 3 + c] = v;
      rgb[p * 3 + c] = roundHalfEven(fr(v * 255));
    }
  }
  return { np: tensor("float32", [1, h, w, 3], np), rgb, width: w, height: h };
}
