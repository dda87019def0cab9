// Prompt → embeddings for the pipeline, with clipSkip. At most one encoder run (per text encoder) covers the positive
// and negative prompt, all their 77-token chunks and any number of clipSkip values: the graph returns every hidden
// state and its final-LN'd twin, and the layer is picked here. Each prompt's embeddings per layer are kept in an exact
// LRU cache (embedding-cache.ts), so a run encodes only the prompts not seen before, and a request whose prompts
// are all cached runs no encoder. With prepacked float32 weights ONNX Runtime's rows of a batch are independent, so a
// cached prompt is bit-identical to a fresh one; compact (16-bit) encoders are not, so they encode one prompt per run.
import type { Family, PipelineModel } from "../checkpoint/model.js";
import { buildClipTextGraph, CLIP_OUTPUTS, parseClipTextConfig, type ClipTextConfig } from "../models/clip-text.js";
import { tokenizeLiteral, tokenizeWeighted, type PromptChunk } from "../prompt/index.js";
import { createSession, type Device, type Session, type SessionOptions } from "../runtime/index.js";
import { float32, tensor, type Float32Tensor, type Tensor } from "../tensor/tensor.js";
import { ClipTokenizer } from "../tokenizer/index.js";
import { chooseLayers, maxClipSkip, usesPenultimate, type EncoderName, type LayerChoice } from "./clip-skip.js";
import { applyEmphasis } from "./emphasis.js";
import {
  chunksKey,
  createEmbeddingCache,
  DEFAULT_EMBEDDING_CACHE_BYTES,
  embeddingKey,
  layersKey,
  type EmbeddingCacheStats,
  type PromptEmbedding,
} from "./embedding-cache.js";

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
  /** Bound of the cache of encoded prompts (embedding-cache.ts); default 64 MiB, 0 disables it. */
  embeddingCacheMaxBytes?: number;
  /**
   * Keep the text encoders' 16-bit checkpoint weights in memory and widen them by Cast at each run, instead of
   * float32 copies. Default: on for SDXL (its two encoders are 0.8 B parameters, 3.3 GB in float32), off otherwise.
   */
  compactTextEncoders?: boolean;
}

export interface Conditioner {
  readonly family: Family;
  /** Largest clipSkip this model accepts. */
  readonly maxClipSkip: number;
  /** The text encoders, in the order of `encodedRows` and of each result's `layers`. */
  readonly encoders: readonly EncoderName[];
  /** Encoder session runs so far: one per text encoder per encode call that misses the cache, none on a full hit. */
  readonly runs: number;
  /** 77-token rows fed to each text encoder so far (the work actually done), in `encoders` order. */
  readonly encodedRows: readonly number[];
  readonly cache: EmbeddingCacheStats;
  encode(req: EncodeRequest): Promise<PromptEmbeddings>;
  /** Embeddings for each clipSkip value from at most one run per encoder (none when every prompt is cached). */
  encodeClipSkips(req: Omit<EncodeRequest, "clipSkip">, clipSkips: readonly number[]): Promise<PromptEmbeddings[]>;
  /** Forgets every cached prompt (a benchmark of new prompts clears it before each run). */
  clearCache(): void;
  release(): Promise<void>;
}

interface Slot {
  encoder: EncoderName;
  config: ClipTextConfig;
  /** Open session; compact encoders close theirs when no encode is using it (see `holding`). */
  session: Promise<Session> | undefined;
  open: () => Promise<Session>;
  /** Encodes running on the session now. */
  users: number;
  tok: ClipTokenizer;
  padId: number;
  hasProjection: boolean;
  /**
   * 16-bit weights widened at run time (compactTextEncoders): not batch-invariant, so prompts run one by one; and the
   * session is closed between encodes (reopening maps the checkpoint again: ≈ 0.2 s), so SDXL's 1.5 GiB of encoder
   * weights are not resident while the UNet denoises.
   */
  compact: boolean;
}

/** One prompt text tokenised for every encoder. */
interface Prompt {
  /** Per slot: its chunks. */
  chunks: PromptChunk[][];
  /** Exact ids and weights of every chunk of every slot (embedding-cache.ts chunksKey). */
  key: string;
}

/** A prompt and the layer choices needed of it. */
interface Need {
  prompt: Prompt;
  layers: LayerChoice[][];
}

const SEQ = 77;

/**
 * A text encoder kept in 16 bits: no float32 sidecar, and ONNX Runtime level "disabled" so the Cast nodes are not
 * constant-folded into float32 copies at load; each Cast then runs just before its consumer and its float32 output
 * is freed after it, so one layer's weight is widened at a time (docs/performance.md, SDXL).
 */
const COMPACT_SESSION: SessionOptions = { float32Weights: false, optimizationLevel: "disabled" };

/** Whether the family's text encoders keep their 16-bit weights by default (compactTextEncoders): SDXL base and refiner. */
export function compactsTextEncoders(family: Family): boolean {
  return family === "sdxl" || family === "sdxl-refiner";
}

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
  const built = buildClipTextGraph(config, component.weights);
  const compact = (opts.compactTextEncoders ?? compactsTextEncoders(model.family)) && built.widened !== undefined;
  const open = () =>
    createSession(built, {
      ...(opts.threads !== undefined && { threads: opts.threads }),
      ...(opts.device !== undefined && { device: opts.device }),
      ...(compact && COMPACT_SESSION),
    });
  const session = await open(); // opened at once, so a broken model fails at load time
  if (compact) await session.release();
  return { encoder, config, session: compact ? undefined : Promise.resolve(session), open, users: 0, tok, padId, hasProjection: component.weights.has("text_projection.weight"), compact };
}

function chunksOf(slot: Slot, text: string, literal: boolean): PromptChunk[] {
  if (literal) return [{ ids: tokenizeLiteral(slot.tok, text, { padId: slot.padId }), weights: new Array<number>(SEQ).fill(1) }];
  return tokenizeWeighted(slot.tok, text, { padId: slot.padId });
}

export async function createConditioner(model: PipelineModel, opts: ConditionerOptions = {}): Promise<Conditioner> {
  const slots: Slot[] = [];
  try {
    for (const name of encoderNames(model.family)) slots.push(await openSlot(model, name, opts));
  } catch (e) {
    await Promise.all(slots.map(async (s) => (await s.session)?.release()));
    throw e;
  }
  const family = model.family;
  const layerInfo = slots.map((s) => ({ encoder: s.encoder, numLayers: s.config.numHiddenLayers }));
  const zeroNegative = usesPenultimate(family);
  const pooledSlot = zeroNegative ? slots.findIndex((s) => s.hasProjection) : -1; // SDXL: bigG's text_embeds
  const dim = slots.reduce((s, x) => s + x.config.hiddenSize, 0);
  const cache = createEmbeddingCache(opts.embeddingCacheMaxBytes ?? DEFAULT_EMBEDDING_CACHE_BYTES);
  const encodedRows = slots.map(() => 0);
  let runs = 0;

  function promptOf(text: string, literal: boolean): Prompt {
    const chunks = slots.map((slot) => chunksOf(slot, text, literal));
    return { chunks, key: chunks.map(chunksKey).join("|") };
  }

  /** One prompt's embedding at `layers` from an encoder run whose rows for it start at `rows[s]` in slot s. */
  function select(outs: Record<string, Tensor>[], prompt: Prompt, rows: readonly number[], layers: LayerChoice[]): PromptEmbedding {
    const parts = slots.map((slot, s) => {
      const H = slot.config.hiddenSize;
      const states = slot.config.numHiddenLayers + 1;
      const choice = layers[s]!;
      const source = outs[s]![choice.finalLayerNorm ? CLIP_OUTPUTS.normedHiddenStates : CLIP_OUTPUTS.hiddenStates]!.data as Float32Array; // [rows, L+1, 77, H]
      const chunks = prompt.chunks[s]!;
      const part = new Float32Array(chunks.length * SEQ * H); // [chunks, 77, H]
      chunks.forEach((chunk, b) => {
        const start = ((rows[s]! + b) * states + choice.hiddenStateIndex) * SEQ * H;
        const z = part.subarray(b * SEQ * H, (b + 1) * SEQ * H); // [77, H]
        z.set(source.subarray(start, start + SEQ * H));
        applyEmphasis(z, chunk.weights, H);
      });
      return part;
    });
    if (pooledSlot < 0) return { parts };
    const te = outs[pooledSlot]![CLIP_OUTPUTS.textEmbeds]!; // [rows, P]
    const p = te.shape[1]!;
    const row = rows[pooledSlot]!;
    return { parts, pooled: (te.data as Float32Array).slice(row * p, (row + 1) * p) }; // [P] of the first chunk
  }

  /** Runs `use` with the encoders held (opened on first use); a compact encoder closes once no encode holds it. */
  async function holding<T>(use: () => Promise<T>): Promise<T> {
    for (const slot of slots) slot.users++;
    try {
      return await use();
    } finally {
      await Promise.all(
        slots.map(async (slot) => {
          if (--slot.users > 0 || !slot.compact || slot.session === undefined) return;
          const closing = slot.session;
          slot.session = undefined;
          await (await closing).release();
        }),
      );
    }
  }

  /** Every needed (prompt, layers) embedding: cached ones, the others from one run per encoder over the missing prompts. */
  async function resolve(needs: readonly Need[]): Promise<Map<string, PromptEmbedding>> {
    const found = new Map<string, PromptEmbedding>();
    const missing = new Map<string, { prompt: Prompt; layers: Map<string, LayerChoice[]> }>(); // by prompt key
    for (const { prompt, layers } of needs) {
      for (const l of layers) {
        const key = embeddingKey(l, prompt.key);
        if (found.has(key)) continue;
        const hit = cache.get(key);
        if (hit !== undefined) {
          found.set(key, hit);
          continue;
        }
        const m = missing.get(prompt.key) ?? { prompt, layers: new Map<string, LayerChoice[]>() };
        m.layers.set(layersKey(l), l);
        missing.set(prompt.key, m);
      }
    }
    if (missing.size === 0) return found;
    // Compact encoders' kernels (weights widened at run time, no prepacking) round differently with the batch size, so
    // there each prompt runs alone: an embedding never depends on which other prompts were missing from the cache.
    const batches = slots.some((s) => s.compact) ? [...missing.values()].map((m) => [m]) : [[...missing.values()]];
    await holding(async () => {
      for (const batch of batches) {
        const outs: Record<string, Tensor>[] = [];
        for (const [s, slot] of slots.entries()) {
          const chunks = batch.flatMap((m) => m.prompt.chunks[s]!);
          const ids = tensor("int64", [chunks.length, SEQ], BigInt64Array.from(chunks.flatMap((c) => c.ids.map(BigInt)))); // [rows, 77]
          const session = await (slot.session ??= slot.open());
          outs.push(await session.run({ input_ids: ids }));
          runs++;
          encodedRows[s]! += chunks.length;
        }
        const rows = slots.map(() => 0);
        for (const m of batch) {
          for (const l of m.layers.values()) {
            const key = embeddingKey(l, m.prompt.key);
            const emb = select(outs, m.prompt, rows, l);
            cache.set(key, emb);
            found.set(key, emb);
          }
          slots.forEach((_, s) => (rows[s]! += m.prompt.chunks[s]!.length));
        }
      }
    });
    return found;
  }

  /** [1, 77·n, D]: the prompt's chunks, then `pad`'s first chunk up to n, encoders side by side. A fresh copy. */
  function assemble(emb: PromptEmbedding, pad: PromptEmbedding | undefined, n: number): Float32Tensor {
    const out = new Float32Array(n * SEQ * dim);
    let col = 0;
    slots.forEach((slot, s) => {
      const H = slot.config.hiddenSize;
      const own = emb.parts[s]!;
      const chunks = own.length / (SEQ * H);
      for (let b = 0; b < n; b++) {
        const [src, at] = b < chunks ? [own, b * SEQ * H] : [pad!.parts[s]!, 0];
        for (let t = 0; t < SEQ; t++) out.set(src.subarray(at + t * H, at + (t + 1) * H), (b * SEQ + t) * dim + col);
      }
      col += H;
    });
    return float32([1, n * SEQ, dim], out);
  }

  async function encodeClipSkips(req: Omit<EncodeRequest, "clipSkip">, clipSkips: readonly number[]): Promise<PromptEmbeddings[]> {
    const choices = clipSkips.map((c) => chooseLayers(family, layerInfo, c)); // validates before any work
    const defaultLayers = chooseLayers(family, layerInfo, 0);
    const negativeChoices = req.clipSkipRule === "diffusers" ? choices.map(() => defaultLayers) : choices;
    const literal = req.literal ?? false;
    const hasNegative = req.negativePrompt !== undefined || !zeroNegative;
    const pos = promptOf(req.prompt, literal);
    const neg = hasNegative ? promptOf(req.negativePrompt ?? "", literal) : undefined;
    const sides = [{ prompt: pos, layers: choices }, ...(neg !== undefined ? [{ prompt: neg, layers: negativeChoices }] : [])];
    const n = Math.max(...sides.flatMap((x) => x.prompt.chunks.map((c) => c.length)));
    // shorter prompts are padded with the empty prompt's chunk at their own layers
    const empty = promptOf("", literal);
    const padded = sides.filter((x) => x.prompt.chunks.some((c) => c.length < n)).map((x) => ({ prompt: empty, layers: x.layers }));
    const found = await resolve([...sides, ...padded]);
    const get = (p: Prompt, l: LayerChoice[]): PromptEmbedding => found.get(embeddingKey(l, p.key))!;
    const embeds = (p: Prompt, l: LayerChoice[]): Float32Tensor => assemble(get(p, l), padded.length > 0 ? get(empty, l) : undefined, n);
    return choices.map((layers, k) => {
      const negLayers = negativeChoices[k]!;
      const pooled = get(pos, layers).pooled;
      const negPooled = neg !== undefined ? get(neg, negLayers).pooled : undefined;
      return {
        clipSkip: clipSkips[k]!,
        promptEmbeds: embeds(pos, layers),
        negativePromptEmbeds: neg !== undefined ? embeds(neg, negLayers) : float32([1, n * SEQ, dim]),
        ...(pooled !== undefined && { pooledPromptEmbeds: float32([1, pooled.length], pooled.slice()) }),
        ...(pooled !== undefined && { negativePooledPromptEmbeds: float32([1, pooled.length], negPooled?.slice() ?? new Float32Array(pooled.length)) }),
        layers,
        chunks: n,
      };
    });
  }

  return {
    family,
    maxClipSkip: maxClipSkip(family, layerInfo),
    encoders: slots.map((s) => s.encoder),
    get runs() {
      return runs;
    },
    get encodedRows() {
      return [...encodedRows];
    },
    get cache() {
      return cache.stats;
    },
    encodeClipSkips,
    async encode(req) {
      const [result] = await encodeClipSkips(req, [req.clipSkip ?? 0]);
      return result!;
    },
    clearCache: () => cache.clear(),
    async release() {
      cache.clear();
      await Promise.all(slots.map(async (s) => (await s.session)?.release()));
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
