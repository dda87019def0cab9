export { decodeImage, decodeMask, type GreyImage } from "./decode-image.js";
export { encodeImage, type EncodeConfig } from "./encode-image.js";
export { imageToTensor } from "./image-to-tensor.js";
export { formatParameters, parseParameters, type GenerationParameters, type ParsedParameters } from "./infotext.js";
export { latentsImageToRgb, type DecodedImage } from "./latents-image-to-rgb.js";
export { makeGrid, type GridCell, type GridConfig } from "./make-grid.js";
export { crc32, insertPngText, readPngTextChunks, textChunk } from "./png-text.js";
export { resizeImage } from "./resize-image.js";
export {
  DEFAULT_IMAGE_LIMITS,
  ImageError,
  type ImageErrorCode,
  type ImageFormat,
  type ImageLimitsConfig,
  type RgbImage,
} from "./types.js";
