// What img2img and inpainting share: the request fields, the run context, and the setup that precedes the loop
// (prompt embeddings, scheduler truncated by strength, the seeded generator). Random draws happen later, in the
// order each pipeline documents.
import type { PromptEmbeddings } from "../conditioning/index.js";
import { createGenerator } from "../rng/index.js";
import { createScheduler, resolveScheduler, SAMPLERS, type Noise, type Scheduler } from "../schedulers/index.js";
import type { Float32Tensor } from "../tensor/tensor.js";
import { denoise, type DenoiseInput } from "./denoise.js";
import type { Pipeline } from "./pipeline.js";
import type { ImageInput } from "./prepare-image.js";
import { applyStrength, checkStrength, schedulerOrder, type StrengthSchedule } from "./strength.js";
import { checkSize, decodeLatents, encodeRequestPrompts, sdxlTimeIds, type GenerateContext, type TextToImageRequest, type TextToImageResult } from "./text-to-image.js";

export interface ImageToImageRequest extends Omit<TextToImageRequest, "latents"> {
  /** The init image; resized (lanczos) to width × height when its size differs. */
  seedImage: ImageInput;
  /** In [0, 1]: the share of the schedule that is run (diffusers' rule, at least one step). */
  strength: number;
}

export interface InpaintRequest extends ImageToImageRequest {
  /** White (≥ 128 after greyscale) = repaint; same size as seedImage. */
  maskImage: ImageInput;
}

export interface ImageGenerateContext extends GenerateContext {
  /** Replaces the seeded generator (tests replay stored draws through it). */
  generator?: Noise;
}

export interface ImageToImageResult extends TextToImageResult {
  /** Index into the full schedule where the loop started. */
  startIndex: number;
  /** The loop's start latents [1, C, h, w]. */
  startLatents: Float32Tensor;
  /** The encoded init image × scaling_factor, when the path encodes it. */
  imageLatents?: Float32Tensor;
  /** Inpainting: the nearest-downsampled mask [1, 1, h, w] and the encoded masked image [1, C, h, w] (9-channel UNet). */
  maskLatents?: Float32Tensor;
  maskedImageLatents?: Float32Tensor;
}

export interface ImageRun {
  embeddings: PromptEmbeddings;
  scheduler: Scheduler;
  schedule: StrengthSchedule;
  generator: Noise;
  /** [1, C, h, w] of the latents. */
  latentShape: number[];
  timeIds: Float32Tensor | undefined;
}

/** Request checks that need no decoding: size and strength. */
export function checkImageRequest(pipeline: Pipeline, req: ImageToImageRequest): void {
  checkSize(pipeline, req.width, req.height);
  checkStrength(req.strength);
}

export async function prepareImageRun(pipeline: Pipeline, req: ImageToImageRequest, ctx: ImageGenerateContext): Promise<ImageRun> {
  const scheduler = createScheduler(req.scheduler, pipeline.schedulerConfig, req.steps);
  const order = schedulerOrder(SAMPLERS[resolveScheduler(req.scheduler, pipeline.schedulerConfig).id].className);
  const schedule = applyStrength(scheduler, req.steps, req.strength, order);
  const embeddings = ctx.embeddings ?? (await encodeRequestPrompts(pipeline, req));
  const f = pipeline.vaeScaleFactor;
  return {
    embeddings,
    scheduler,
    schedule,
    generator: ctx.generator ?? createGenerator(req.rng ?? "gpu", req.seed),
    latentShape: [1, pipeline.vaeConfig.latentChannels, req.height / f, req.width / f],
    timeIds: pipeline.unetConfig.addition !== undefined ? sdxlTimeIds(req) : undefined,
  };
}

/** The loop's context fields (cancel, progress) as denoise takes them. */
function loopHooks(ctx: ImageGenerateContext): Pick<DenoiseInput, "signal" | "onProgress"> {
  return { ...(ctx.signal !== undefined && { signal: ctx.signal }), ...(ctx.onProgress !== undefined && { onProgress: ctx.onProgress }) };
}

/**
 * The loop both seeded pipelines share: denoise from `startLatents` at the strength's start index (plus the
 * path's own hooks: extra UNet channels, the inpainting blend), decode, and report what ran.
 */
export async function denoiseFromStart(
  pipeline: Pipeline,
  req: ImageToImageRequest,
  run: ImageRun,
  ctx: ImageGenerateContext,
  startLatents: Float32Tensor,
  hooks: Pick<DenoiseInput, "extraChannels" | "afterStep"> = {},
): Promise<ImageToImageResult> {
  const { scheduler } = run;
  const { startIndex } = run.schedule;
  const latents = await denoise(pipeline, {
    scheduler,
    latents: startLatents,
    embeddings: run.embeddings,
    guidanceScale: req.guidanceScale,
    guidanceRescale: req.guidanceRescale ?? 0,
    timeIds: run.timeIds,
    noise: run.generator,
    startIndex,
    ...hooks,
    ...loopHooks(ctx),
  });
  return {
    image: await decodeLatents(pipeline, latents, req.vaeTiling),
    latents,
    embeddings: run.embeddings,
    timesteps: scheduler.timesteps.slice(startIndex),
    startIndex,
    startLatents,
  };
}
