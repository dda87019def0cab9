// The real `Generator`: a pooled pipeline per (model, VAE, LoRAs); prompts encoded once per request (one text-encoder
// run covers every clipSkip of a sweep and every seed), then one image per seed (seed + i) or per clipSkip value (same
// seed), rendered exactly as `vellum generate` renders it (same metadata, byte-identical PNGs). Progress per step,
// cancellation between steps, `clipSkipApplied` and warnings on every image; refusals carry Runware codes.
import { ClipSkipError, type LayerChoice, type PromptEmbeddings } from "../conditioning/index.js";
import type { Pipeline } from "../pipeline/pipeline.js";
import { renderSeededImage } from "../pipeline/render-seeded.js";
import { renderImage, samplerLabel, type RenderRequest } from "../pipeline/render.js";
import { renderSweep } from "../pipeline/sweep.js";
import { UnknownSchedulerError } from "../schedulers/index.js";
import { ModelPool, type LoadedLora, type ModelPoolConfig } from "./model-pool.js";
import type { ClipSkipApplied, GeneratedImage, GenerateContext, GenerateRequest, Generator } from "./types.js";

export interface PipelineGeneratorConfig extends ModelPoolConfig {
  /** An existing pool (otherwise one is created from the pool settings). */
  readonly pool?: ModelPool;
}

export interface PipelineGenerator {
  readonly generate: Generator;
  readonly pool: ModelPool;
  /** AIRs of the models the pool holds, most recently used first (model affinity). */
  heldModels(): readonly string[];
  /** Releases the pool's pipelines (call after the queue has drained). */
  close(): Promise<void>;
}

const RUNNABLE = new Set(["sd1x", "sd2x", "sdxl", "sdxl-refiner"]);
const MAX_SEED = 2n ** 63n - 1n;
const MIME = { png: "image/png", jpeg: "image/jpeg", webp: "image/webp" } as const;

function jobError(code: string, message: string, details: { parameter?: string; type?: string; min?: number; max?: number } = {}): Error {
  return Object.assign(new Error(message), { code, ...details });
}

/** Seed of image i: seed + i, wrapping inside 1…2^63−1. */
export function seedAt(seed: bigint, i: number): bigint {
  return ((seed - 1n + BigInt(i)) % MAX_SEED) + 1n;
}

/** Wire names of the text encoders: CLIP-L (SD1, SDXL), OpenCLIP-H (SD2), OpenCLIP-bigG (SDXL). */
function encoderLabel(layer: LayerChoice, pipeline: Pipeline): string {
  if (layer.encoder === "text_encoder_2") return "clipG";
  return pipeline.model.family === "sd2" ? "openClipH" : "clipL";
}

export function clipSkipApplied(e: PromptEmbeddings, pipeline: Pipeline): ClipSkipApplied {
  const layers = Object.fromEntries(e.layers.map((l) => [encoderLabel(l, pipeline), l.hiddenStateIndex]));
  return { clipSkip: e.clipSkip, layers, finalLayerNorm: e.layers.every((l) => l.finalLayerNorm) };
}

function loraWarnings(loras: readonly LoadedLora[], clipSkip: number): string[] {
  const out: string[] = [];
  for (const l of loras) {
    if (l.merged === 0) out.push(`LoRA ${l.entry.air} matched no weights of this model (different base model?); it had no effect.`);
    const trained = l.training.clipSkip;
    if (trained !== undefined && trained !== clipSkip) {
      const a1111 = l.training.trainingClipSkip !== undefined ? ` (A1111 "Clip skip: ${l.training.trainingClipSkip}")` : "";
      out.push(`LoRA ${l.entry.air} was trained at clipSkip ${trained}${a1111}; this image used clipSkip ${clipSkip}.`);
    }
  }
  return out;
}

function checkRequest(req: GenerateRequest, pipeline: Pipeline, clipSkips: readonly number[]): void {
  try {
    samplerLabel(pipeline, req.scheduler);
  } catch (e) {
    if (e instanceof UnknownSchedulerError) throw jobError("invalidScheduler", `Invalid value for scheduler parameter. ${e.message}`, { parameter: "scheduler", type: "string" });
    throw e;
  }
  const max = pipeline.conditioner.maxClipSkip;
  for (const c of clipSkips) {
    if (!Number.isInteger(c) || c < 0 || c > max) {
      throw jobError("invalidClipSkip", `Invalid value for clipSkip parameter. ClipSkip must be an integer between 0 and ${max} for this model (${pipeline.model.family}), got ${c}.`, {
        parameter: "clipSkip",
        type: "integer",
        min: 0,
        max,
      });
    }
  }
  if (req.guidanceRescale !== undefined && !(req.guidanceRescale >= 0 && req.guidanceRescale <= 1)) {
    throw jobError("invalidGuidanceRescale", "Invalid value for guidanceRescale parameter. It must be a float between 0 and 1.", { parameter: "guidanceRescale", type: "float", min: 0, max: 1 });
  }
}

async function* generateWith(pool: ModelPool, req: GenerateRequest, ctx: GenerateContext): AsyncGenerator<GeneratedImage> {
  if (!RUNNABLE.has(req.model.architecture)) {
    throw jobError("invalidModel", `${req.model.air} is a ${req.model.architecture} model; this server runs Stable Diffusion 1.x, 2.x and XL checkpoints only.`, { parameter: "model", type: "string" });
  }
  const lease = await pool.acquire({ model: req.model, ...(req.vae !== undefined && { vae: req.vae }), loras: req.loras });
  try {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    const { pipeline } = lease;
    const isSweep = Array.isArray(req.clipSkip);
    const clipSkips: number[] = isSweep ? [...(req.clipSkip as readonly number[])] : [req.clipSkip as number];
    checkRequest(req, pipeline, clipSkips);
    // Absent negative prompt: as `vellum generate` without --negative-prompt (SDXL zero embeddings, SD1/SD2 "").
    const negativePrompt = req.negativePrompt === "" ? undefined : req.negativePrompt;
    const unique = [...new Set(clipSkips)];
    let embeddings: PromptEmbeddings[];
    try {
      embeddings = await pipeline.conditioner.encodeClipSkips(
        { prompt: req.prompt, literal: false, clipSkipRule: "symmetric", ...(negativePrompt !== undefined && { negativePrompt }) },
        unique,
      );
    } catch (e) {
      if (e instanceof ClipSkipError) throw jobError("invalidClipSkip", e.message, { parameter: "clipSkip", type: "integer", min: e.min, max: e.max });
      throw e;
    }
    const format = req.output.format;
    // The request as the pipeline takes it (seed and clipSkip per image below).
    const base: Omit<RenderRequest, "clipSkip"> = {
      prompt: req.prompt,
      ...(negativePrompt !== undefined && { negativePrompt }),
      literal: false,
      width: req.widthPx,
      height: req.heightPx,
      steps: req.steps,
      guidanceScale: req.guidanceScale,
      ...(req.guidanceRescale !== undefined && { guidanceRescale: req.guidanceRescale }),
      ...(req.vaeTiling !== undefined && { vaeTiling: req.vaeTiling }),
      ...(req.scheduler !== undefined && { scheduler: req.scheduler }),
      seed: req.seed,
      rng: "gpu",
      format,
      ...(format !== "png" && { quality: req.output.quality }),
    };
    if (isSweep && req.seedImage === undefined) {
      // Text-to-image sweep: the K values share one batched UNet run per step (pipeline/sweep.ts); same seed for all.
      const values = clipSkips.slice(0, req.numberResults);
      const sweep = renderSweep(pipeline, base, values, {
        embeddings: values.map((c) => embeddings[unique.indexOf(c)]!),
        signal: ctx.signal,
        onProgress: (p) => ctx.onProgress({ step: p.step, total: p.total, imageIndex: p.imageIndex }),
      });
      for await (const img of sweep) {
        const e = embeddings[unique.indexOf(img.clipSkip)]!;
        const warnings = loraWarnings(lease.loras, img.clipSkip);
        yield { index: img.index, seed: req.seed, bytes: img.bytes, mime: MIME[format], clipSkipApplied: clipSkipApplied(e, pipeline), ...(warnings.length > 0 && { warnings }) };
      }
      return;
    }
    for (let i = 0; i < req.numberResults; i++) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      const clipSkip = isSweep ? clipSkips[i]! : clipSkips[0]!;
      const seed = isSweep ? req.seed : seedAt(req.seed, i);
      const e = embeddings[unique.indexOf(clipSkip)]!;
      const r: RenderRequest = { ...base, seed, clipSkip };
      const run = { embeddings: e, signal: ctx.signal, onProgress: (p: { step: number; total: number }) => ctx.onProgress({ step: p.step, total: p.total, imageIndex: i }) };
      const seeded = req.seedImage === undefined ? undefined : { seedImage: req.seedImage, strength: req.strength, ...(req.maskImage !== undefined && { maskImage: req.maskImage }) };
      const bytes = (seeded === undefined ? await renderImage(pipeline, r, run) : await renderSeededImage(pipeline, { ...r, ...seeded }, run)).bytes;
      const warnings = loraWarnings(lease.loras, clipSkip);
      yield { index: i, seed, bytes, mime: MIME[format], clipSkipApplied: clipSkipApplied(e, pipeline), ...(warnings.length > 0 && { warnings }) };
    }
  } catch (err) {
    throw ctx.signal.aborted ? ctx.signal.reason : err; // the pipeline's own CancelledError → the caller's reason
  } finally {
    lease.release();
  }
}

export function createPipelineGenerator(config: PipelineGeneratorConfig = {}): PipelineGenerator {
  const pool = config.pool ?? new ModelPool(config);
  return {
    pool,
    generate: (req, ctx) => generateWith(pool, req, ctx),
    heldModels: () => pool.heldModels(),
    close: () => pool.close(),
  };
}
