// One generation → an encoded image file with A1111-style metadata. The CLI and the server both call this, so an
// image returned through the API is byte-identical to `vellum generate` with the same parameters.
import { basename } from "node:path";
import { encodeImage, formatParameters, type ImageFormat } from "../image/index.js";
import { resolveScheduler, type SamplerId } from "../schedulers/index.js";
import type { Pipeline } from "./pipeline.js";
import { textToImage, type GenerateContext, type TextToImageRequest, type TextToImageResult } from "./text-to-image.js";

export interface RenderRequest extends TextToImageRequest {
  format: ImageFormat;
  /** JPEG / WEBP quality. */
  quality?: number;
}

export interface RenderedImage {
  bytes: Uint8Array;
  /** The A1111 infotext stored in the file. */
  parameters: string;
  result: TextToImageResult;
}

/** A1111's sampler name and schedule type for our sampler ids (what Civitai and A1111 read back). */
const A1111_SAMPLERS: Record<SamplerId, [string, string?]> = {
  euler: ["Euler"],
  euler_karras: ["Euler", "Karras"],
  euler_a: ["Euler a"],
  dpmpp_2m: ["DPM++ 2M"],
  dpmpp_2m_karras: ["DPM++ 2M", "Karras"],
  dpmpp_2m_sde: ["DPM++ 2M SDE"],
  dpmpp_2m_sde_karras: ["DPM++ 2M SDE", "Karras"],
  dpmpp_3m: ["DPM++ 3M"],
  dpmpp_3m_karras: ["DPM++ 3M", "Karras"],
  dpmpp_singlestep: ["DPM++ 2S"],
  dpmpp_singlestep_karras: ["DPM++ 2S", "Karras"],
  ddim: ["DDIM"],
  ddpm: ["DDPM"],
  pndm: ["PLMS"],
  lms: ["LMS"],
  lms_karras: ["LMS", "Karras"],
  heun: ["Heun"],
  heun_karras: ["Heun", "Karras"],
  kdpm2: ["DPM2"],
  kdpm2_karras: ["DPM2", "Karras"],
  kdpm2_a: ["DPM2 a"],
  unipc: ["UniPC"],
  unipc_karras: ["UniPC", "Karras"],
  deis: ["DEIS"],
  lcm: ["LCM"],
};

export function samplerLabel(pipeline: Pipeline, scheduler: string | undefined): [string, string?] {
  return A1111_SAMPLERS[resolveScheduler(scheduler, pipeline.schedulerConfig).id];
}

/** The model name written into metadata: the checkpoint's file or folder name. */
export function modelLabel(pipeline: Pipeline): string {
  return basename(pipeline.model.source).replace(/\.safetensors$/i, "");
}

/** The A1111 infotext of a generation (what Civitai and A1111 read back). */
export function imageParameters(pipeline: Pipeline, req: RenderRequest, clipSkip: number, denoisingStrength?: number): string {
  const [sampler, scheduleType] = samplerLabel(pipeline, req.scheduler);
  const family = pipeline.model.family;
  return formatParameters({
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
    clipSkip,
    family: family === "sdxl-refiner" ? "sdxl" : family,
    ...(denoisingStrength !== undefined && { denoisingStrength }),
    extra: {
      ...(req.rng === "cpu" && { RNG: "CPU" }),
      ...(req.guidanceRescale !== undefined && req.guidanceRescale > 0 && { "Guidance rescale": req.guidanceRescale }),
    },
  });
}

/** Encodes a generated image in the requested format with its metadata. */
export async function encodeRendered<R extends TextToImageResult>(req: RenderRequest, result: R, parameters: string): Promise<{ bytes: Uint8Array; parameters: string; result: R }> {
  const { rgb, width, height } = result.image;
  const bytes = await encodeImage(rgb, width, height, {
    format: req.format,
    ...(req.quality !== undefined && { quality: req.quality }),
    parameters,
  });
  return { bytes, parameters, result };
}

export async function renderImage(pipeline: Pipeline, req: RenderRequest, ctx: GenerateContext = {}): Promise<RenderedImage> {
  const result = await textToImage(pipeline, req, ctx);
  return encodeRendered(req, result, imageParameters(pipeline, req, result.embeddings.clipSkip));
}
