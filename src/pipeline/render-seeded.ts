// img2img / inpainting → an encoded image file with A1111 metadata (adds "Denoising strength"), the seeded
// counterpart of render.ts's renderImage for the CLI and the server. A mask selects inpainting.
import { encodeImage, formatParameters } from "../image/index.js";
import type { ImageGenerateContext, ImageToImageRequest, ImageToImageResult } from "./image-request.js";
import { imageToImage } from "./image-to-image.js";
import { inpaint } from "./inpaint.js";
import type { Pipeline } from "./pipeline.js";
import type { ImageInput } from "./prepare-image.js";
import { modelLabel, samplerLabel, type RenderRequest, type RenderedImage } from "./render.js";

export interface SeededRenderRequest extends Omit<RenderRequest, "latents">, ImageToImageRequest {
  maskImage?: ImageInput;
}

export interface SeededRenderedImage extends RenderedImage {
  result: ImageToImageResult;
}

export async function renderSeededImage(pipeline: Pipeline, req: SeededRenderRequest, ctx: ImageGenerateContext = {}): Promise<SeededRenderedImage> {
  const { maskImage } = req;
  const result = maskImage === undefined ? await imageToImage(pipeline, req, ctx) : await inpaint(pipeline, { ...req, maskImage }, ctx);
  const [sampler, scheduleType] = samplerLabel(pipeline, req.scheduler);
  const family = pipeline.model.family;
  const parameters = formatParameters({
    prompt: req.prompt,
    ...(req.negativePrompt !== undefined && req.negativePrompt !== "" && { negativePrompt: req.negativePrompt }),
    steps: req.steps,
    sampler,
    ...(scheduleType !== undefined && { scheduleType }),
    cfgScale: req.guidanceScale,
    seed: req.seed,
    width: req.width,
    height: req.height,
    model: modelLabel(pipeline),
    clipSkip: result.embeddings.clipSkip,
    family: family === "sdxl-refiner" ? "sdxl" : family,
    denoisingStrength: req.strength,
    extra: {
      ...(req.rng === "cpu" && { RNG: "CPU" }),
      ...(req.guidanceRescale !== undefined && req.guidanceRescale > 0 && { "Guidance rescale": req.guidanceRescale }),
    },
  });
  const { rgb, width, height } = result.image;
  const bytes = await encodeImage(rgb, width, height, {
    format: req.format,
    ...(req.quality !== undefined && { quality: req.quality }),
    parameters,
  });
  return { bytes, parameters, result };
}
