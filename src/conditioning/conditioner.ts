// Prompt → embeddings for the pipeline, with clipSkip. One encoder run (per text encoder) covers the positive and
// negative prompt, all their 77-token chunks and any number of clipSkip values: the graph returns every hidden
// state and its final-LN'd twin, and the layer is picked here.
import type { Family, PipelineModel } from "../checkpoint/model.js";
import { buildClipTextGraph, CLIP_OUTPUTS, parseClipTextConfig, type ClipTextConfig } from "../models/clip-text.js";
import { tokenizeLiteral, tokenizeWeighted, type PromptChunk } from "../prompt/index.js";
import { createSession, type Device, type Session } from "../runtime/index.js";
import { float32, tensor, type Float32Tensor, type Tensor } from "../tensor/tensor.js";
import { ClipTokenizer } from "../tokenizer/index.js";
import { chooseLayers, maxClipSkip, usesPenultimate, type EncoderName, type LayerChoice } from "./clip-skip.js";
import { applyEmphasis } from "./emphasis.js";

export interface EncodeRequest {
  prompt: string;
  /** undefined = no negative prompt (SDXL: all-zero embeddings; SD1/SD2: "" as diffusers does); "" is encoded. */
  negativePrompt?: string;
  /** Our unit, ≥ 0 (docs/conventions.md). Default 0. */
  clipSkip?: number;
  /** Plain text in one 77-token chunk truncated like diffusers' encode_prompt (no weights, no BREAK). */
  literal?: boolean;
  /**
   * "symmetric" (default): clipSkip applies to the negative prompt too (A1111, ComfyUI, sd.cpp).
   * "diffusers": the negative prompt stays at the model's default layer, as diffusers' reference pipelines do.
   */
  clipSkipRule?: ClipSkipRule;
}

export type ClipSkipRule = "symmetric" | "diffusers";

export interface PromptEmbeddings {
  clipSkip: number;
  /** [1, 77·chunks, D] */
  promptEmbeds: Float32Tensor;
  /** [1, 77·chunks, D] */
  negativePromptEmbeds: Float32Tensor;
  /** [1, P] bigG text_embeds of the first chunk (SDXL), never skipped. */
  pooledPromptEmbeds?: Float32Tensor;
  negativePooledPromptEmbeds?: Float32Tensor;
  /** Hidden-state index used per encoder and whether the final layer norm ran. */
  layers: LayerChoice[];
  chunks: number;
}

export interface ConditionerOptions {
  threads?: number;
  /** ONNX Runtime execution provider (default cpu). */
  device?: Device;
}

export interface Conditioner {
  readonly family: Family;
  /** Largest clipSkip this model accepts. */
  readonly maxClipSkip: number;
  /** Encoder session runs so far (one per text encoder per encode call). */
  readonly runs: number;
  encode(req: EncodeRequest): Promise<PromptEmbeddings>;
  /** Embeddings for each clipSkip value from a single encoder run. */
  encodeClipSkips(req: Omit<EncodeRequest, "clipSkip">, clipSkips: readonly number[]): Promise<PromptEmbeddings[]>;
  release(): Promise<void>;
}

interface Slot {
  encoder: EncoderName;
  config: ClipTextConfig;
  session: Session;
  tok: ClipTokenizer;
  padId: number;
  hasProjection: boolean;
}

const SEQ = 77;

function encoderNames(family: Family): EncoderName[] {
  if (family === "sdxl") return ["text_encoder", "text_encoder_2"];
  if (family === "sdxl-refiner") return ["text_encoder_2"];
  return ["text_encoder"];
}

async function openSlot(model: PipelineModel, encoder: EncoderName, opts: ConditionerOptions): Promise<Slot> {
  const component = encoder === "text_encoder" ? model.textEncoder : model.textEncoder2;
  if (component === undefined) throw new Error(`${model.source}: ${model.family} model has no ${encoder}`);
  const config = parseClipTextConfig(component.config);
  const dir = encoder === "text_encoder" ? model.tokenizerDir : model.tokenizer2Dir;
  const tok = dir !== undefined ? ClipTokenizer.fromDir(dir) : ClipTokenizer.bundled();
  // Without a tokenizer folder: CLIP-L pads with EOS (49407), OpenCLIP (SD2, SDXL bigG) with 0.
  const padId = dir !== undefined ? tok.padId : encoder === "text_encoder_2" || model.family === "sd2" ? 0 : tok.eosId;
  const session = await createSession(buildClipTextGraph(config, component.weights), {
    ...(opts.threads !== undefined && { threads: opts.threads }),
    ...(opts.device !== undefined && { device: opts.device }),
  });
  return { encoder, config, session, tok, padId, hasProjection: component.weights.has("text_projection.weight") };
}

function chunksOf(slot: Slot, text: string, literal: boolean): PromptChunk[] {
  if (literal) return [{ ids: tokenizeLiteral(slot.tok, text, { padId: slot.padId }), weights: new Array<number>(SEQ).fill(1) }];
  return tokenizeWeighted(slot.tok, text, { padId: slot.padId });
}

function padTo(chunks: PromptChunk[], n: number, empty: PromptChunk): PromptChunk[] {
  return [...chunks, ...Array.from({ length: n - chunks.length }, () => empty)];
}

interface SlotRun {
  slot: Slot;
  chunks: PromptChunk[]; // positive chunks then negative chunks
  out: Record<string, Tensor>;
}

export async function createConditioner(model: PipelineModel, opts: ConditionerOptions = {}): Promise<Conditioner> {
  const slots: Slot[] = [];
  try {
    for (const name of encoderNames(model.family)) slots.push(await openSlot(model, name, opts));
  } catch (e) {
    await Promise.all(slots.map((s) => s.session.release()));
    throw e;
  }
  const family = model.family;
  const layerInfo = slots.map((s) => ({ encoder: s.encoder, numLayers: s.config.numHiddenLayers }));
  const zeroNegative = usesPenultimate(family);
  let runs = 0;

  async function encodeClipSkips(req: Omit<EncodeRequest, "clipSkip">, clipSkips: readonly number[]): Promise<PromptEmbeddings[]> {
    const choices = clipSkips.map((c) => chooseLayers(family, layerInfo, c)); // validates before any work
    const defaultLayers = chooseLayers(family, layerInfo, 0);
    const literal = req.literal ?? false;
    const hasNegative = req.negativePrompt !== undefined || !zeroNegative;
    const negativeText = req.negativePrompt ?? "";
    const tokenized = slots.map((slot) => ({
      slot,
      pos: chunksOf(slot, req.prompt, literal),
      neg: hasNegative ? chunksOf(slot, negativeText, literal) : [],
      empty: chunksOf(slot, "", literal)[0]!,
    }));
    const n = Math.max(...tokenized.flatMap((t) => [t.pos.length, t.neg.length]));
    const slotRuns: SlotRun[] = [];
    for (const t of tokenized) {
      const chunks = [...padTo(t.pos, n, t.empty), ...(hasNegative ? padTo(t.neg, n, t.empty) : [])];
      const ids = tensor("int64", [chunks.length, SEQ], BigInt64Array.from(chunks.flatMap((c) => c.ids.map(BigInt))));
      const out = await t.slot.session.run({ input_ids: ids });
      runs++;
      slotRuns.push({ slot: t.slot, chunks, out });
    }
    const dim = slots.reduce((s, x) => s + x.config.hiddenSize, 0);
    const pooledRun = slotRuns.find((r) => r.slot.hasProjection && usesPenultimate(family));
    const pooled = (row: number): Float32Tensor | undefined => {
      if (pooledRun === undefined) return undefined;
      const te = pooledRun.out[CLIP_OUTPUTS.textEmbeds]!;
      const p = te.shape[1]!;
      return float32([1, p], (te.data as Float32Array).subarray(row * p, (row + 1) * p));
    };
    return choices.map((layers, k) => {
      const select = (offset: number, layers: LayerChoice[]): Float32Tensor => {
        const out = new Float32Array(n * SEQ * dim);
        let col = 0;
        slotRuns.forEach((r, s) => {
          const choice = layers[s]!;
          const H = r.slot.config.hiddenSize;
          const source = r.out[choice.finalLayerNorm ? CLIP_OUTPUTS.normedHiddenStates : CLIP_OUTPUTS.hiddenStates]!;
          const states = r.slot.config.numHiddenLayers + 1;
          for (let b = 0; b < n; b++) {
            const start = ((offset + b) * states + choice.hiddenStateIndex) * SEQ * H;
            const z = (source.data as Float32Array).slice(start, start + SEQ * H); // [77, H]
            applyEmphasis(z, r.chunks[offset + b]!.weights, H);
            for (let t = 0; t < SEQ; t++) out.set(z.subarray(t * H, (t + 1) * H), (b * SEQ + t) * dim + col);
          }
          col += H;
        });
        return float32([1, n * SEQ, dim], out);
      };
      const promptEmbeds = select(0, layers);
      const negativeLayers = req.clipSkipRule === "diffusers" ? defaultLayers : layers;
      const negativePromptEmbeds = hasNegative ? select(n, negativeLayers) : float32([1, n * SEQ, dim]);
      const pos = pooled(0);
      const neg = hasNegative ? pooled(n) : undefined;
      return {
        clipSkip: clipSkips[k]!,
        promptEmbeds,
        negativePromptEmbeds,
        ...(pos !== undefined && { pooledPromptEmbeds: pos }),
        ...(pos !== undefined && { negativePooledPromptEmbeds: neg ?? float32(pos.shape) }),
        layers,
        chunks: n,
      };
    });
  }

  return {
    family,
    maxClipSkip: maxClipSkip(family, layerInfo),
    get runs() {
      return runs;
    },
    encodeClipSkips,
    async encode(req) {
      const [result] = await encodeClipSkips(req, [req.clipSkip ?? 0]);
      return result!;
    },
    async release() {
      await Promise.all(slots.map((s) => s.session.release()));
    },
  };
}

/** One-shot: opens the encoders, encodes, releases. */
export async function encodePrompts(model: PipelineModel, req: EncodeRequest, opts: ConditionerOptions = {}): Promise<PromptEmbeddings> {
  const c = await createConditioner(model, opts);
  try {
    return await c.encode(req);
  } finally {
    await c.release();
  }
}

/** One-shot clipSkip sweep: one encoder run for all values. */
export async function encodePromptsForClipSkips(
  model: PipelineModel,
  req: Omit<EncodeRequest, "clipSkip">,
  clipSkips: readonly number[],
  opts: ConditionerOptions = {},
): Promise<PromptEmbeddings[]> {
  const c = await createConditioner(model, opts);
  try {
    return await c.encodeClipSkips(req, clipSkips);
  } finally {
    await c.release();
  }
}
