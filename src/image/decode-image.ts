// Image bytes → 8-bit RGB, as diffusers sees a PIL image after `.convert("RGB")`: alpha is dropped (not composited),
// palette and greyscale images are expanded to RGB. No EXIF auto-rotation (PIL does not rotate either).
// Size limits are checked on the header before any pixel is decoded.
import sharp, { type Metadata } from "sharp";
import { DEFAULT_IMAGE_LIMITS, ImageError, type ImageLimitsConfig, type RgbImage } from "./types.js";

const ACCEPTED = new Set(["png", "jpeg", "webp", "gif", "tiff", "heif"]);

async function checkHeader(bytes: Uint8Array, limits: ImageLimitsConfig): Promise<void> {
  if (bytes.length === 0) throw new ImageError("invalidImage", "image is empty");
  if (bytes.length > limits.maxBytes) {
    throw new ImageError("imageTooLarge", `image is ${bytes.length} bytes; the limit is ${limits.maxBytes}`);
  }
  let meta: Metadata;
  try {
    meta = await sharp(bytes).metadata();
  } catch (e) {
    throw new ImageError("invalidImage", `image could not be decoded: ${(e as Error).message}`);
  }
  if (meta.format === undefined || !ACCEPTED.has(meta.format)) {
    throw new ImageError("unsupportedImageFormat", `image format ${meta.format ?? "unknown"} is not accepted (png, jpeg, webp, gif, tiff, heif)`);
  }
  const { width, height } = meta;
  if (width === undefined || height === undefined || width < 1 || height < 1) {
    throw new ImageError("invalidImage", "image has no size");
  }
  if (width > limits.maxSidePx || height > limits.maxSidePx || width * height > limits.maxPixels) {
    throw new ImageError(
      "imageTooLarge",
      `image is ${width}x${height}; limits are ${limits.maxSidePx} px per side and ${limits.maxPixels} pixels`,
    );
  }
}

export async function decodeImage(bytes: Uint8Array, limits: ImageLimitsConfig = DEFAULT_IMAGE_LIMITS): Promise<RgbImage> {
  await checkHeader(bytes, limits);
  try {
    const { data, info } = await sharp(bytes, { failOn: "error" })
      .removeAlpha()
      .toColourspace("srgb")
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { rgb: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  } catch (e) {
    throw new ImageError("invalidImage", `image could not be decoded: ${(e as Error).message}`);
  }
}

export interface GreyImage {
  /** width · height bytes, row-major. */
  readonly grey: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/**
 * Image bytes → greyscale [H, W], as PIL's `.convert("L")`: L = (19595 R + 38470 G + 7471 B + 2^15) >> 16
 * (ITU-R 601 luma in 16-bit fixed point; a grey pixel keeps its value). Alpha is ignored.
 */
export async function decodeMask(bytes: Uint8Array, limits: ImageLimitsConfig = DEFAULT_IMAGE_LIMITS): Promise<GreyImage> {
  const { rgb, width, height } = await decodeImage(bytes, limits);
  const grey = new Uint8Array(width * height);
  for (let p = 0; p < grey.length; p++) {
    grey[p] = (rgb[p * 3]! * 19595 + rgb[p * 3 + 1]! * 38470 + rgb[p * 3 + 2]! * 7471 + 0x8000) >>> 16;
  }
  return { grey, width, height };
}
