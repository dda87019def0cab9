// 8-bit RGB → the VAE encoder's input, as diffusers' VaeImageProcessor.preprocess does for a PIL image:
//   x = 2 · float32(u8 / 255) − 1, NCHW float32 in [-1, 1].
import { tensor, type Float32Tensor } from "../tensor/tensor.js";
import { assertRgb, type RgbImage } from "./types.js";

const fr = Math.fround;

export function imageToTensor(image: RgbImage): Float32Tensor {
  assertRgb(image, "imageToTensor");
  const { rgb, width, height } = image;
  const plane = width * height;
  const out = new Float32Array(plane * 3); // [1, 3, H, W]
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) out[c * plane + p] = fr(2 * fr(rgb[p * 3 + c]! / 255) - 1);
  }
  return tensor("float32", [1, 3, height, width], out);
}
