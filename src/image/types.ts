// Shared image types: 8-bit RGB pixels, row-major, interleaved (HWC), no alpha.

export interface RgbImage {
  /** width · height · 3 bytes, rows top to bottom, R G B per pixel. */
  readonly rgb: Uint8Array;
  readonly width: number;
  readonly height: number;
}

export type ImageFormat = "png" | "jpeg" | "webp";

/** Input limits applied before decoding (checked on the header, so a huge image is refused without decoding it). */
export interface ImageLimitsConfig {
  maxBytes: number;
  maxPixels: number;
  maxSidePx: number;
}

export const DEFAULT_IMAGE_LIMITS: ImageLimitsConfig = {
  maxBytes: 32 * 1024 * 1024,
  maxPixels: 4096 * 4096,
  maxSidePx: 8192,
};

export type ImageErrorCode = "invalidImage" | "unsupportedImageFormat" | "imageTooLarge";

export class ImageError extends Error {
  constructor(
    readonly code: ImageErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ImageError";
  }
}

/** Throws unless `rgb` holds exactly width · height · 3 bytes of a non-empty image. */
export function assertRgb(image: RgbImage, where: string): void {
  const { rgb, width, height } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`${where}: invalid size ${width}x${height}`);
  }
  if (rgb.length !== width * height * 3) {
    throw new RangeError(`${where}: ${rgb.length} bytes for ${width}x${height} RGB (${width * height * 3} expected)`);
  }
}
