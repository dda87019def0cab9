// The benchmark's stages over one model: open the sessions (text encoders, UNet, VAE decoder) with our runtime
// options, the inputs of one CFG UNet step and one VAE decode at a given image size, and the text-encode timing
// (with an untimed cache set-up per run and the FLOPs of the rows the encoders actually ran).
import type { PipelineModel } from "../src/checkpoint/model.js";
import { createConditioner, type Conditioner, type PromptEmbeddings } from "../src/conditioning/index.js";
import { parseClipTextConfig } from "../src/models/clip-text.js";
import { buildUNetGraph, unetConfigFromJson, UNET_INPUTS, UNET_OUTPUT, type UNetConfig } from "../src/models/unet.js";
import { buildVAEDecoderGraph, vaeConfigFromJson, VAE_DECODER_INPUT, type VAEConfig } from "../src/models/vae.js";
import { UNET_SESSION, VAE_SESSION } from "../src/pipeline/pipeline.js";
import { createSession, type Session, type SessionOptions } from "../src/runtime/index.js";
import { float32, type Float32Tensor } from "../src/tensor/tensor.js";
import { clipTextFlops } from "./flops.js";
import { cpuMsSince, summarize, type StageResult } from "./stats.js";

export const PROMPT = { prompt: "a highly detailed matte painting of a city at night, neon signs, rain", negativePrompt: "blurry, lowres" };

export interface BenchModel {
  readonly model: PipelineModel;
  readonly unetConfig: UNetConfig;
  readonly vaeConfig: VAEConfig;
}

export function benchModel(model: PipelineModel): BenchModel {
  if (model.unet === undefined || model.vae === undefined) throw new Error(`${model.source}: needs a UNet and a VAE`);
  return { model, unetConfig: unetConfigFromJson(model.unet.config), vaeConfig: vaeConfigFromJson(model.vae.config) };
}

export const openConditioner = (m: BenchModel, opts: SessionOptions): Promise<Conditioner> =>
  createConditioner(m.model, opts.threads === undefined ? {} : { threads: opts.threads });

/** The UNet as the pipeline opens it (UNET_SESSION), unless `opts` says otherwise (e.g. --opt-level). */
export const openUNet = (m: BenchModel, opts: SessionOptions): Promise<Session> =>
  createSession(buildUNetGraph(m.unetConfig, m.model.unet!.weights), { ...UNET_SESSION, ...opts });

export const openVAEDecoder = (m: BenchModel, opts: SessionOptions): Promise<Session> =>
  createSession(buildVAEDecoderGraph(m.vaeConfig, m.model.vae!.weights), { ...opts, ...VAE_SESSION });

/** Deterministic pseudo-random values in [-1, 1) (the benchmark needs data, not a seed contract). */
function filled(shape: number[], seed: number): Float32Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s / 2 ** 31 - 1;
  }
  return float32(shape, data);
}

function concatBatch(a: Float32Tensor, b: Float32Tensor): Float32Tensor {
  const data = new Float32Array(a.data.length + b.data.length);
  data.set(a.data);
  data.set(b.data, a.data.length);
  return float32([a.shape[0]! + b.shape[0]!, ...a.shape.slice(1)], data);
}

/** Feeds of one classifier-free-guidance step: batch 2 (negative, positive) at latent size h × w. */
export function cfgStepFeeds(m: BenchModel, emb: PromptEmbeddings, h: number, w: number): Record<string, Float32Tensor> {
  const feeds: Record<string, Float32Tensor> = {
    [UNET_INPUTS.sample]: filled([2, m.unetConfig.inChannels, h, w], 1),
    [UNET_INPUTS.timestep]: float32([1], [999]),
    [UNET_INPUTS.encoderHiddenStates]: concatBatch(emb.negativePromptEmbeds, emb.promptEmbeds), // [2, 77, D]
  };
  if (m.unetConfig.addition !== undefined) {
    const pooled = emb.pooledPromptEmbeds ?? filled([1, 1280], 2);
    feeds[UNET_INPUTS.textEmbeds] = concatBatch(emb.negativePooledPromptEmbeds ?? pooled, pooled); // [2, P]
    const ids = float32([1, 6], [h * 8, w * 8, 0, 0, h * 8, w * 8]);
    feeds[UNET_INPUTS.timeIds] = concatBatch(ids, ids); // [2, 6]
  }
  return feeds;
}

export async function runUNet(unet: Session, feeds: Record<string, Float32Tensor>): Promise<void> {
  const out = await unet.run(feeds);
  if (out[UNET_OUTPUT] === undefined) throw new Error("unet: no output");
}

export const vaeFeeds = (m: BenchModel, h: number, w: number): Record<string, Float32Tensor> => ({
  [VAE_DECODER_INPUT]: filled([1, m.vaeConfig.latentChannels, h, w], 3),
});

/** FLOPs the conditioner's encoders spent since `before` (its encodedRows then): the rows they actually ran. */
function textFlopsSince(m: BenchModel, c: Conditioner, before: readonly number[]): number {
  return c.encoders.reduce((sum, encoder, s) => {
    const part = encoder === "text_encoder" ? m.model.textEncoder : m.model.textEncoder2;
    return sum + clipTextFlops(parseClipTextConfig(part!.config), { batch: c.encodedRows[s]! - before[s]!, tokens: 77 });
  }, 0);
}

/**
 * Times `encode` `runs` times, each after an untimed `setup` (which sets the prompt cache up), after `warmup` untimed
 * rounds (a new batch size reallocates in ONNX Runtime). FLOPs are those of the last timed run.
 */
export async function timeTextEncode(
  stage: string,
  runs: number,
  m: BenchModel,
  c: Conditioner,
  setup: () => Promise<unknown>,
  encode: () => Promise<PromptEmbeddings>,
  warmup = 1,
): Promise<{ result: StageResult; last: PromptEmbeddings }> {
  for (let i = 0; i < warmup; i++) await setup().then(encode);
  const runsMs: number[] = [];
  const cpuMs: number[] = [];
  let flops = 0;
  let last: PromptEmbeddings | undefined;
  for (let i = 0; i < runs; i++) {
    await setup();
    const rows = c.encodedRows;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    last = await encode();
    runsMs.push(performance.now() - t0);
    cpuMs.push(cpuMsSince(c0));
    flops = textFlopsSince(m, c, rows);
  }
  return { result: summarize(stage, runsMs, flops, cpuMs), last: last! };
}

/** Whether two encodings are equal bit for bit (every embedding tensor). */
export function sameEmbeddings(a: PromptEmbeddings, b: PromptEmbeddings): boolean {
  const bytes = (t: Float32Tensor | undefined) => (t === undefined ? Buffer.alloc(0) : Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  const parts = (e: PromptEmbeddings) => [e.promptEmbeds, e.negativePromptEmbeds, e.pooledPromptEmbeds, e.negativePooledPromptEmbeds];
  return parts(a).every((t, i) => bytes(t).equals(bytes(parts(b)[i])));
}
