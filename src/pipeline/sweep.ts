// A clipSkip sweep rendered as one batch: the prompts are encoded once (every clipSkip value comes from the same
// hidden states), and the K variants share the seed's initial latents and run through ONE UNet call per step.
//
// Batch layout with classifier-free guidance: all negatives, then all positives —
//   [neg_0, …, neg_{K−1}, pos_0, …, pos_{K−1}]  (2K)
// as diffusers lays out `num_images_per_prompt` batches; without guidance only the positives (K). Each variant keeps
// its own sampler and its own seeded generator, so a stochastic sampler draws for variant k exactly what a single
// request with that clipSkip draws. Only the UNet call is shared: images equal one-at-a-time renders up to the
// UNet's batch-size rounding (tested at the golden image tolerance). Variants are split into groups whose UNet batch
// stays ≤ `maxBatch` (default 8: 4 variants with CFG); groups run one after another.
import type { PromptEmbeddings } from "../conditioning/index.js";
import { UNET_INPUTS, UNET_OUTPUT } from "../models/unet.js";
import { createGenerator } from "../rng/index.js";
import { createScheduler, type Noise, type Scheduler } from "../schedulers/index.js";
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import { CancelledError, concatBatch, type DenoiseProgress } from "./denoise.js";
import { applyGuidance, rescaleGuidance } from "./guidance.js";
import type { Pipeline } from "./pipeline.js";
import { encodeRendered, imageParameters, type RenderedImage, type RenderRequest } from "./render.js";
import { checkSize, decodeLatents, sdxlTimeIds } from "./text-to-image.js";

/** Default cap on the UNet batch of one sweep group (2 per variant with CFG). */
export const DEFAULT_SWEEP_MAX_BATCH = 8;

export interface SweepProgress extends DenoiseProgress {
  /** Position of the image in the clipSkip list. */
  imageIndex: number;
}

export interface SweepContext {
  signal?: AbortSignal;
  /** Called per step for every image of the running group. */
  onProgress?: (p: SweepProgress) => void;
  /** Embeddings per clipSkip value, in the order of `clipSkips` (otherwise encoded here, in one encoder run). */
  embeddings?: readonly PromptEmbeddings[];
  /** Largest UNet batch per call (≥ 2 with CFG, ≥ 1 without); default DEFAULT_SWEEP_MAX_BATCH. */
  maxBatch?: number;
}

export interface SweepImage extends RenderedImage {
  /** Position in the clipSkip list. */
  index: number;
  clipSkip: number;
}

/** Variants per group so that the UNet batch (×2 with CFG) stays ≤ maxBatch. */
export function sweepGroupSize(maxBatch: number, cfg: boolean): number {
  const perVariant = cfg ? 2 : 1;
  if (!Number.isInteger(maxBatch) || maxBatch < perVariant) throw new RangeError(`maxBatch must be an integer ≥ ${perVariant}, got ${maxBatch}`);
  return Math.floor(maxBatch / perVariant);
}

interface Lane {
  index: number;
  embeddings: PromptEmbeddings;
  scheduler: Scheduler;
  generator: Noise;
  latents: Float32Tensor;
}

/** The UNet feeds that do not change between steps: text context, SDXL pooled embeddings and time ids. */
function constantFeeds(pipeline: Pipeline, req: Omit<RenderRequest, "clipSkip">, lanes: readonly Lane[], cfg: boolean): Record<string, Float32Tensor> {
  const pick = (f: (e: PromptEmbeddings) => Float32Tensor) => lanes.map((l) => f(l.embeddings));
  const both = (neg: Float32Tensor[], pos: Float32Tensor[]) => concatBatch(cfg ? [...neg, ...pos] : pos);
  const feeds: Record<string, Float32Tensor> = {
    [UNET_INPUTS.encoderHiddenStates]: both(pick((e) => e.negativePromptEmbeds), pick((e) => e.promptEmbeds)), // [B, S, D]
  };
  if (pipeline.unetConfig.addition !== undefined) {
    const need = (t: Float32Tensor | undefined) => {
      if (t === undefined) throw new Error("SDXL UNet needs pooled text embeddings");
      return t;
    };
    feeds[UNET_INPUTS.textEmbeds] = both(pick((e) => need(e.negativePooledPromptEmbeds)), pick((e) => need(e.pooledPromptEmbeds))); // [B, P]
    const ids = sdxlTimeIds(req);
    feeds[UNET_INPUTS.timeIds] = concatBatch(new Array<Float32Tensor>(lanes.length * (cfg ? 2 : 1)).fill(ids)); // [B, 6]
  }
  return feeds;
}

/** Denoises one group of lanes in place: one UNet run per step for all of them. */
async function denoiseGroup(pipeline: Pipeline, req: Omit<RenderRequest, "clipSkip">, lanes: Lane[], ctx: SweepContext): Promise<void> {
  const cfg = req.guidanceScale > 1;
  const feeds = constantFeeds(pipeline, req, lanes, cfg);
  const timesteps = lanes[0]!.scheduler.timesteps;
  const batch = lanes.length * (cfg ? 2 : 1);
  const began = performance.now();
  for (let i = 0; i < timesteps.length; i++) {
    if (ctx.signal?.aborted) throw new CancelledError();
    const scaled = lanes.map((l) => l.scheduler.scaleModelInput(l.latents, i)); // K × [1, C, h, w]
    const sample = concatBatch(cfg ? [...scaled, ...scaled] : scaled); // [B, C, h, w]
    const out = await pipeline.unet.run({
      ...feeds,
      [UNET_INPUTS.sample]: sample,
      [UNET_INPUTS.timestep]: float32([batch], new Array<number>(batch).fill(timesteps[i]!)),
    });
    const pred = out[UNET_OUTPUT] as Float32Tensor; // [B, C, h, w]
    const shape = [1, ...pred.shape.slice(1)];
    const size = pred.data.length / batch;
    const item = (b: number) => float32(shape, pred.data.subarray(b * size, (b + 1) * size)); // [1, C, h, w]
    for (const [k, lane] of lanes.entries()) {
      let noisePred: Float32Tensor;
      if (cfg) {
        const text = item(lanes.length + k);
        noisePred = applyGuidance(item(k), text, req.guidanceScale);
        if ((req.guidanceRescale ?? 0) > 0) noisePred = rescaleGuidance(noisePred, text, req.guidanceRescale!);
      } else {
        noisePred = item(k);
      }
      lane.latents = lane.scheduler.step(noisePred, i, lane.latents, lane.generator).prevSample;
    }
    const elapsedMs = performance.now() - began;
    for (const lane of lanes) ctx.onProgress?.({ step: i + 1, total: timesteps.length, elapsedMs, imageIndex: lane.index });
  }
}

/**
 * Text-to-image for each clipSkip value with the same seed, batched across values. Yields each image (in list order)
 * as its group finishes, encoded with its metadata exactly as `renderImage` would write it.
 */
export async function* renderSweep(pipeline: Pipeline, req: Omit<RenderRequest, "clipSkip">, clipSkips: readonly number[], ctx: SweepContext = {}): AsyncGenerator<SweepImage> {
  checkSize(pipeline, req.width, req.height);
  if (ctx.embeddings !== undefined && ctx.embeddings.length !== clipSkips.length) {
    throw new RangeError(`renderSweep: ${ctx.embeddings.length} embeddings for ${clipSkips.length} clipSkip values`);
  }
  const embeddings =
    ctx.embeddings ??
    (await pipeline.conditioner.encodeClipSkips(
      {
        prompt: req.prompt,
        ...(req.negativePrompt !== undefined && { negativePrompt: req.negativePrompt }),
        literal: req.literal ?? false,
        ...(req.clipSkipRule !== undefined && { clipSkipRule: req.clipSkipRule }),
      },
      clipSkips,
    ));
  const cfg = req.guidanceScale > 1;
  const groupSize = sweepGroupSize(ctx.maxBatch ?? DEFAULT_SWEEP_MAX_BATCH, cfg);
  const shape = [1, pipeline.vaeConfig.latentChannels, req.height / pipeline.vaeScaleFactor, req.width / pipeline.vaeScaleFactor];
  if (req.latents !== undefined && req.latents.shape.join() !== shape.join()) {
    throw new RangeError(`latents must have shape [${shape.join(", ")}], got [${req.latents.shape.join(", ")}]`);
  }

  for (let first = 0; first < clipSkips.length; first += groupSize) {
    const lanes: Lane[] = [];
    for (let index = first; index < Math.min(first + groupSize, clipSkips.length); index++) {
      // As textToImage: a fresh sampler and generator per image; the generator's first draw is the initial noise.
      const scheduler = createScheduler(req.scheduler, pipeline.schedulerConfig, req.steps);
      const generator = createGenerator(req.rng ?? "gpu", req.seed);
      const noise = req.latents ?? generator.randn(shape); // [1, C, h, w]
      const sigma0 = Math.fround(scheduler.initNoiseSigma);
      lanes.push({ index, embeddings: embeddings[index]!, scheduler, generator, latents: float32(shape, noise.data.map((v) => v * sigma0)) });
    }
    await denoiseGroup(pipeline, req, lanes, ctx);
    for (const lane of lanes) {
      if (ctx.signal?.aborted) throw new CancelledError();
      const image = await decodeLatents(pipeline, lane.latents, req.vaeTiling);
      const clipSkip = clipSkips[lane.index]!;
      const full: RenderRequest = { ...req, clipSkip };
      const result = { image, latents: lane.latents, embeddings: lane.embeddings, timesteps: lane.scheduler.timesteps };
      const rendered = await encodeRendered(full, result, imageParameters(pipeline, full, lane.embeddings.clipSkip));
      yield { ...rendered, index: lane.index, clipSkip };
    }
  }
}
