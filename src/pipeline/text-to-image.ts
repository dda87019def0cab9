// Text-to-image, step for step as diffusers' StableDiffusion(XL)Pipeline: encode the prompts (clipSkip applied to
// both), draw the initial latents from the seed, denoise with classifier-free guidance in one batch-2 UNet run per
// step, decode with the VAE. Progress is reported per step; an AbortSignal cancels between steps.
import type { ClipSkipRule, PromptEmbeddings } from "../conditioning/index.js";
import { latentsImageToRgb, type DecodedImage } from "../image/index.js";
import { createGenerator } from "../rng/index.js";
import { createScheduler, type Noise } from "../schedulers/index.js";
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import { denoise, type DenoiseProgress } from "./denoise.js";
import type { Pipeline } from "./pipeline.js";
import { decodeVAE, type VAETilingMode } from "./vae-tiling.js";

export interface TextToImageRequest {
  prompt: string;
  /** undefined = none (SDXL: zero embeddings; SD1/SD2: the empty prompt); "" is encoded. */
  negativePrompt?: string;
  /** Plain text truncated to one 77-token chunk, as diffusers' encode_prompt (no weighting syntax). */
  literal?: boolean;
  width: number;
  height: number;
  steps: number;
  guidanceScale: number;
  /** diffusers `guidance_rescale` (0 = off). */
  guidanceRescale?: number;
  /** Runware / A1111 / diffusers scheduler name; undefined or "Default" = the model's own scheduler config. */
  scheduler?: string;
  seed: bigint;
  /** "gpu" (default) = torch CUDA randn (Philox); "cpu" = torch.Generator("cpu"). */
  rng?: "gpu" | "cpu";
  /** Replaces the seeded initial noise: a standard-normal [1, C, h, w] tensor (diffusers' `latents=`). */
  latents?: Float32Tensor;
  /** Our unit (docs/conventions.md). */
  clipSkip?: number;
  /** "symmetric" (default) or "diffusers" (negative prompt not skipped, as diffusers' pipelines). */
  clipSkipRule?: ClipSkipRule;
  /** SDXL micro-conditioning (height, width); defaults: original = target = the image size, crops (0, 0). */
  originalSize?: readonly [number, number];
  cropsTopLeft?: readonly [number, number];
  targetSize?: readonly [number, number];
  /** Tiled VAE decode (pipeline/vae-tiling.ts): "auto" (default) tiles only images above 768 × 768 px. */
  vaeTiling?: VAETilingMode;
}

export interface GenerateContext {
  signal?: AbortSignal;
  onProgress?: (p: DenoiseProgress) => void;
  /** Precomputed embeddings (the clipSkip sweep encodes once for many values). */
  embeddings?: PromptEmbeddings;
}

export interface TextToImageResult {
  image: DecodedImage;
  /** Final latents before VAE decoding [1, C, h, w]. */
  latents: Float32Tensor;
  embeddings: PromptEmbeddings;
  timesteps: readonly number[];
}

export function checkSize(pipeline: Pipeline, width: number, height: number): void {
  const f = pipeline.vaeScaleFactor;
  if (width % f !== 0 || height % f !== 0 || width <= 0 || height <= 0) {
    throw new RangeError(`width and height must be positive multiples of ${f}, got ${width}×${height}`);
  }
}

/** SDXL `add_time_ids`: original size, crop top-left, target size, as floats [1, 6]. */
export function sdxlTimeIds(req: TextToImageRequest): Float32Tensor {
  const original = req.originalSize ?? [req.height, req.width];
  const crops = req.cropsTopLeft ?? [0, 0];
  const target = req.targetSize ?? [req.height, req.width];
  return float32([1, 6], [...original, ...crops, ...target]);
}

/** Encodes a request's prompts (clipSkip, rule and literal mode as asked). */
export function encodeRequestPrompts(pipeline: Pipeline, req: TextToImageRequest): Promise<PromptEmbeddings> {
  return pipeline.conditioner.encode({
    prompt: req.prompt,
    ...(req.negativePrompt !== undefined && { negativePrompt: req.negativePrompt }),
    clipSkip: req.clipSkip ?? 0,
    literal: req.literal ?? false,
    ...(req.clipSkipRule !== undefined && { clipSkipRule: req.clipSkipRule }),
  });
}

export async function textToImage(pipeline: Pipeline, req: TextToImageRequest, ctx: GenerateContext = {}): Promise<TextToImageResult> {
  checkSize(pipeline, req.width, req.height);
  const embeddings = ctx.embeddings ?? (await encodeRequestPrompts(pipeline, req));
  const scheduler = createScheduler(req.scheduler, pipeline.schedulerConfig, req.steps);
  const generator: Noise = createGenerator(req.rng ?? "gpu", req.seed);
  const shape = [1, pipeline.vaeConfig.latentChannels, req.height / pipeline.vaeScaleFactor, req.width / pipeline.vaeScaleFactor];
  // diffusers' prepare_latents: the first draw of the generator, unless latents are given.
  const noise = req.latents ?? generator.randn(shape);
  if (noise.shape.join() !== shape.join()) throw new RangeError(`latents must have shape [${shape.join(", ")}], got [${noise.shape.join(", ")}]`);
  const sigma0 = Math.fround(scheduler.initNoiseSigma);
  const start = float32(shape, noise.data.map((v) => v * sigma0));

  const latents = await denoise(pipeline, {
    scheduler,
    latents: start,
    embeddings,
    guidanceScale: req.guidanceScale,
    guidanceRescale: req.guidanceRescale ?? 0,
    timeIds: pipeline.unetConfig.addition !== undefined ? sdxlTimeIds(req) : undefined,
    noise: generator,
    ...(ctx.signal !== undefined && { signal: ctx.signal }),
    ...(ctx.onProgress !== undefined && { onProgress: ctx.onProgress }),
  });
  const image = await decodeLatents(pipeline, latents, req.vaeTiling);
  return { image, latents, embeddings, timesteps: scheduler.timesteps };
}

/** vae.decode(latents / scaling_factor) → pixels, as diffusers' output_type "np" and "pil"; tiled per `vaeTiling`. */
export async function decodeLatents(pipeline: Pipeline, latents: Float32Tensor, vaeTiling: VAETilingMode = "auto"): Promise<DecodedImage> {
  const scale = Math.fround(pipeline.vaeConfig.scalingFactor);
  const z = float32(latents.shape, latents.data.map((v) => v / scale));
  const decoder = await pipeline.vaeDecoder();
  return latentsImageToRgb(await decodeVAE(decoder, z, { mode: vaeTiling, scaleFactor: pipeline.vaeScaleFactor }));
}
