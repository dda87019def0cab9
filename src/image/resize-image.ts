// Resizes RGB to exactly width × height (aspect ratio not kept), as diffusers' VaeImageProcessor.resize does for a
// PIL input with resize_mode "default": `image.resize((w, h), resample=LANCZOS)`. We use libvips' lanczos3, the same
// filter family (a = 3) but not PIL's implementation, so pixels can differ by a level or two.
import sharp from "sharp";
import { assertRgb, type RgbImage } from "./types.js";

export async function resizeImage(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  assertRgb(image, "resizeImage");
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`resizeImage: invalid target size ${width}x${height}`);
  }
  if (width === image.width && height === image.height) return image;
  const { data, info } = await sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(width, height, { fit: "fill", kernel: "lanczos3" })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { rgb: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}
