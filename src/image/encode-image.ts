// RGB pixels → PNG / JPEG / WEBP bytes. PNG is lossless and byte-for-byte deterministic (fixed zlib level, fixed
// filter, no timestamps); its A1111 `parameters` text goes in a tEXt/iTXt chunk right after IHDR.
// JPEG / WEBP carry the same text in EXIF UserComment (libvips writes it as ASCII: non-ASCII characters are
// transliterated there, so PNG is the format to use for exact metadata).
import sharp from "sharp";
import { insertPngText } from "./png-text.js";
import { assertRgb, type ImageFormat } from "./types.js";

export interface EncodeConfig {
  format: ImageFormat;
  /** JPEG / WEBP quality 1–100 (default 90); ignored for PNG. */
  quality?: number;
  /** A1111 infotext (see formatParameters), stored under the keyword `parameters`. */
  parameters?: string;
}

export async function encodeImage(rgb: Uint8Array, width: number, height: number, config: EncodeConfig): Promise<Uint8Array> {
  assertRgb({ rgb, width, height }, "encodeImage");
  const quality = config.quality ?? 90;
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw new RangeError(`encodeImage: quality must be an integer in 1..100, got ${quality}`);
  }
  const input = sharp(rgb, { raw: { width, height, channels: 3 } });
  switch (config.format) {
    case "png": {
      const png = await input.png({ compressionLevel: 6, adaptiveFiltering: false, palette: false }).toBuffer();
      return config.parameters === undefined ? new Uint8Array(png) : insertPngText(png, { parameters: config.parameters });
    }
    case "jpeg":
    case "webp": {
      const coded = config.format === "jpeg" ? input.jpeg({ quality }) : input.webp({ quality });
      const withText = config.parameters === undefined ? coded : coded.withExif({ IFD2: { UserComment: config.parameters } });
      return new Uint8Array(await withText.toBuffer());
    }
    default:
      throw new RangeError(`encodeImage: unknown format ${String(config.format)}`);
  }
}
