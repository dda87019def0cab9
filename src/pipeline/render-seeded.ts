// img2img / inpainting → an encoded image file with A1111 metadata (adds "Denoising strength"), the seeded
// counterpart of render.ts's renderImage for the CLI and the server. A mask selects inpainting.
import type { ImageGenerateContext, ImageToImageRequest, ImageToImageResult } from "./image-request.js";
import { imageToImage } from "./image-to-image.js";
import { inpaint } from "./inpaint.js";
import type { Pipeline } from "./pipeline.js";
import type { ImageInput } from "./prepare-image.js";
import { encodeRendered, imageParameters, type RenderRequest, type RenderedImage } from "./render.js";

export interface SeededRenderRequest extends Omit<RenderRequest, "latents">, ImageToImageRequest {
  maskImage?: ImageInput;
}

export interface SeededRenderedImage extends RenderedImage {
  result: ImageToImageResult;
}

export async function renderSeededImage(pipeline: Pipeline, req: SeededRenderRequest, ctx: ImageGenerateContext = {}): Promise<SeededRenderedImage> {
  const { maskImage } = req;
  const result = maskImage === undefined ? await imageToImage(pipeline, req, ctx) : await inpaint(pipeline, { ...req, maskImage }, ctx);
  return encodeRendered(req, result, imageParameters(pipeline, req, result.embeddings.clipSkip, req.strength));
}
