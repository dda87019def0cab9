// The denoising loop shared by text-to-image and image-to-image: per step, scale the input, run the UNet once on
// [negative; positive] (or on the positive alone when guidance ≤ 1, as diffusers does), guide, and step the sampler.
import type { PromptEmbeddings } from "../conditioning/index.js";
import { UNET_INPUTS, UNET_OUTPUT } from "../models/unet.js";
import type { Noise, Scheduler } from "../schedulers/index.js";
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import { applyGuidance, rescaleGuidance, splitBatch } from "./guidance.js";
import type { Pipeline } from "./pipeline.js";

export interface DenoiseProgress {
  /** 1-based step just finished. */
  step: number;
  total: number;
  elapsedMs: number;
}

export interface DenoiseInput {
  scheduler: Scheduler;
  /** Start latents (already scaled / noised) [1, C, h, w]. */
  latents: Float32Tensor;
  embeddings: PromptEmbeddings;
  guidanceScale: number;
  guidanceRescale: number;
  /** SDXL add_time_ids [1, 6]. */
  timeIds: Float32Tensor | undefined;
  noise: Noise;
  /** First index into scheduler.timesteps (img2img strength). */
  startIndex?: number;
  /** Extra UNet input channels appended after the scaled latents (9-channel inpainting: mask + masked-image latents). */
  extraChannels?: Float32Tensor;
  /** Called after each step with the new latents; may replace them (inpainting blend). */
  afterStep?: (latents: Float32Tensor, i: number) => Float32Tensor;
  signal?: AbortSignal;
  onProgress?: (p: DenoiseProgress) => void;
}

export class CancelledError extends Error {
  override readonly name = "CancelledError";
  constructor() {
    super("generation cancelled");
  }
}

/** Stacks tensors of equal trailing shape along axis 0. */
export function concatBatch(parts: readonly Float32Tensor[]): Float32Tensor {
  const [first] = parts;
  if (first === undefined) throw new Error("concatBatch: nothing to concatenate");
  const rest = first.shape.slice(1);
  const data = new Float32Array(parts.reduce((n, p) => n + p.data.length, 0));
  let offset = 0;
  let batch = 0;
  for (const p of parts) {
    data.set(p.data, offset);
    offset += p.data.length;
    batch += p.shape[0]!;
  }
  return float32([batch, ...rest], data);
}

/** Concatenates [B, C1, H, W] and [B, C2, H, W] along channels. */
export function concatChannels(a: Float32Tensor, b: Float32Tensor): Float32Tensor {
  const [n, c1, h, w] = a.shape as [number, number, number, number];
  const c2 = b.shape[1]!;
  const plane = h * w;
  const out = new Float32Array(n * (c1 + c2) * plane);
  for (let k = 0; k < n; k++) {
    out.set(a.data.subarray(k * c1 * plane, (k + 1) * c1 * plane), k * (c1 + c2) * plane);
    out.set(b.data.subarray(k * c2 * plane, (k + 1) * c2 * plane), (k * (c1 + c2) + c1) * plane);
  }
  return float32([n, c1 + c2, h, w], out);
}

export async function denoise(pipeline: Pipeline, input: DenoiseInput): Promise<Float32Tensor> {
  const { scheduler, embeddings: e } = input;
  const cfg = input.guidanceScale > 1;
  const batch = cfg ? 2 : 1;
  const context = cfg ? concatBatch([e.negativePromptEmbeds, e.promptEmbeds]) : e.promptEmbeds; // [B, S, D]
  const feeds: Record<string, Float32Tensor> = { [UNET_INPUTS.encoderHiddenStates]: context };
  if (input.timeIds !== undefined) {
    const pooled = e.pooledPromptEmbeds, negPooled = e.negativePooledPromptEmbeds;
    if (pooled === undefined || negPooled === undefined) throw new Error("SDXL UNet needs pooled text embeddings");
    feeds[UNET_INPUTS.textEmbeds] = cfg ? concatBatch([negPooled, pooled]) : pooled; // [B, P]
    feeds[UNET_INPUTS.timeIds] = cfg ? concatBatch([input.timeIds, input.timeIds]) : input.timeIds; // [B, 6]
  }
  const extra = input.extraChannels && (cfg ? concatBatch([input.extraChannels, input.extraChannels]) : input.extraChannels);

  const start = input.startIndex ?? 0;
  const total = scheduler.timesteps.length - start;
  const began = performance.now();
  let latents = input.latents;
  for (let i = start; i < scheduler.timesteps.length; i++) {
    if (input.signal?.aborted) throw new CancelledError();
    const t = scheduler.timesteps[i]!;
    const doubled = cfg ? concatBatch([latents, latents]) : latents;
    let sample = scheduler.scaleModelInput(doubled, i); // [B, C, h, w]
    if (extra !== undefined) sample = concatChannels(sample, extra);
    const out = await pipeline.unet.run({
      ...feeds,
      [UNET_INPUTS.sample]: sample,
      [UNET_INPUTS.timestep]: float32([batch], new Array<number>(batch).fill(t)),
    });
    let noisePred = out[UNET_OUTPUT] as Float32Tensor;
    if (cfg) {
      const [uncond, text] = splitBatch(noisePred);
      noisePred = applyGuidance(uncond, text, input.guidanceScale);
      if (input.guidanceRescale > 0) noisePred = rescaleGuidance(noisePred, text, input.guidanceRescale);
    }
    latents = scheduler.step(noisePred, i, latents, input.noise).prevSample;
    if (input.afterStep !== undefined) latents = input.afterStep(latents, i);
    input.onProgress?.({ step: i - start + 1, total, elapsedMs: performance.now() - began });
  }
  return latents;
}
