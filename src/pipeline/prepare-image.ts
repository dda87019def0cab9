// Seed image and mask → the tensors diffusers' VaeImageProcessor.preprocess makes of PIL inputs:
//   image: decode to RGB (alpha dropped, palette/grey expanded), resize to the request size (lanczos), 2·(u8/255) − 1;
//   mask:  decode, resize, greyscale (PIL "L" luma), u8/255, binarise (< 0.5 → 0, ≥ 0.5 → 1; white = repaint).
// Undecodable input becomes a SeedImageError with the API's code.
import { decodeImage, ImageError, imageToTensor, resizeImage, type RgbImage } from "../image/index.js";
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import { SeedImageError, type SeedImageErrorCode } from "./seed-image-error.js";

/** Encoded image bytes (PNG, JPEG, WEBP, …) or already decoded RGB pixels. */
export type ImageInput = Uint8Array | RgbImage;

const fr = Math.fround;

function isRgb(input: ImageInput): input is RgbImage {
  return !(input instanceof Uint8Array);
}

async function decode(input: ImageInput, code: SeedImageErrorCode, what: string): Promise<RgbImage> {
  if (isRgb(input)) return input;
  try {
    return await decodeImage(input);
  } catch (e) {
    if (e instanceof ImageError) throw new SeedImageError(code, `${what}: ${e.message}`);
    throw e;
  }
}

/** Decodes a seed image to RGB (without resizing); its size is what a mask is checked against. */
export function decodeSeedImage(input: ImageInput): Promise<RgbImage> {
  return decode(input, "invalidSeedImage", "seedImage");
}

/** RGB → the VAE encoder input [1, 3, height, width] in [-1, 1], resized (lanczos) when the size differs. */
export async function seedImageTensor(image: RgbImage, width: number, height: number): Promise<Float32Tensor> {
  return imageToTensor(await resizeImage(image, width, height)); // [1, 3, H, W]
}

/** PIL `convert("L")`: (19595 R + 38470 G + 7471 B + 2^15) >> 16. */
function luma(image: RgbImage): Uint8Array {
  const { rgb } = image;
  const grey = new Uint8Array(image.width * image.height);
  for (let p = 0; p < grey.length; p++) {
    grey[p] = (rgb[p * 3]! * 19595 + rgb[p * 3 + 1]! * 38470 + rgb[p * 3 + 2]! * 7471 + 0x8000) >>> 16;
  }
  return grey;
}

/**
 * The binarised mask [1, 1, height, width] (1 = repaint). The mask must have the seed image's size (both are then
 * resized to the request size); any other size is refused rather than stretched onto a different region.
 * As diffusers, the resize comes before the greyscale conversion.
 */
export async function prepareMask(input: ImageInput, seedSize: { width: number; height: number }, width: number, height: number): Promise<Float32Tensor> {
  const mask = await decode(input, "invalidMaskImage", "maskImage");
  if (mask.width !== seedSize.width || mask.height !== seedSize.height) {
    throw new SeedImageError(
      "invalidMaskImage",
      `maskImage is ${mask.width}×${mask.height} but seedImage is ${seedSize.width}×${seedSize.height}; they must have the same size`,
    );
  }
  const grey = luma(await resizeImage(mask, width, height));
  const out = new Float32Array(grey.length); // [1, 1, H, W]
  for (let p = 0; p < grey.length; p++) out[p] = fr(grey[p]! / 255) >= 0.5 ? 1 : 0;
  return float32([1, 1, height, width], out);
}

/** `image * (mask < 0.5)`: the known pixels, the repainted region zeroed (diffusers' masked_image). */
export function maskedImage(image: Float32Tensor /* [1, 3, H, W] */, mask: Float32Tensor /* [1, 1, H, W] */): Float32Tensor {
  const plane = mask.data.length;
  const out = new Float32Array(image.data.length);
  for (let k = 0; k < out.length; k++) out[k] = mask.data[k % plane]! < 0.5 ? image.data[k]! : 0;
  return float32(image.shape, out); // [1, 3, H, W]
}

/** `F.interpolate(mask, size=(h, w))`, mode nearest: source index floor(i · in/out) (float32 scale, as torch). */
export function downsampleMaskNearest(mask: Float32Tensor /* [1, 1, H, W] */, h: number, w: number): Float32Tensor {
  const [, , inH, inW] = mask.shape as [number, number, number, number];
  const sy = fr(inH / h), sx = fr(inW / w);
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    const iy = Math.min(Math.floor(fr(y * sy)), inH - 1);
    for (let x = 0; x < w; x++) {
      const ix = Math.min(Math.floor(fr(x * sx)), inW - 1);
      out[y * w + x] = mask.data[iy * inW + ix]!;
    }
  }
  return float32([1, 1, h, w], out); // [1, 1, h, w]
}
