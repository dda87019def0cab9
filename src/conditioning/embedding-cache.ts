// An exact, byte-bounded LRU of one conditioner's text-encoder outputs. An entry is ONE prompt's embeddings at one
// layer choice: per text encoder, its chunks' selected hidden state with emphasis applied, and the pooled text_embeds.
// The key is every input that decides those numbers for a given set of encoders: the layer (hidden-state index and
// final-LN use) per encoder, and the token ids and emphasis weights of every chunk per encoder, stored bit for bit.
// The encoders themselves are not in the key: the cache lives inside one conditioner and dies with it.
// Stored arrays are never handed to callers: the conditioner copies them into each result it assembles.
import type { PromptChunk } from "../prompt/index.js";
import type { LayerChoice } from "./clip-skip.js";

export interface PromptEmbedding {
  /** Per text encoder, in the conditioner's order: [chunks, 77, H] (selected layer, emphasis applied). */
  readonly parts: readonly Float32Array[];
  /** [P] text_embeds of the first chunk (SDXL bigG); does not depend on the layer. */
  readonly pooled?: Float32Array;
}

export interface EmbeddingCacheStats {
  readonly entries: number;
  readonly bytes: number;
  readonly maxBytes: number;
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
}

export interface EmbeddingCache {
  readonly stats: EmbeddingCacheStats;
  /** The entry, now most recently used; undefined on a miss. */
  get(key: string): PromptEmbedding | undefined;
  /** Stores the entry (evicting least recently used ones); an entry larger than maxBytes is not stored. */
  set(key: string, value: PromptEmbedding): void;
  clear(): void;
}

export const DEFAULT_EMBEDDING_CACHE_BYTES = 64 * 2 ** 20;

/** Bytes an entry holds: its arrays and its key (two bytes per character, an upper bound). */
export function entryBytes(key: string, value: PromptEmbedding): number {
  return value.parts.reduce((s, p) => s + p.byteLength, 0) + (value.pooled?.byteLength ?? 0) + 2 * key.length;
}

/** The chunks of one prompt for one encoder, exactly: ids as uint32, weights as float64 (so -0 ≠ 0), base64. */
export function chunksKey(chunks: readonly PromptChunk[]): string {
  const ids = Uint32Array.from(chunks.flatMap((c) => c.ids));
  const weights = Float64Array.from(chunks.flatMap((c) => c.weights));
  return `${chunks.length}:${Buffer.from(ids.buffer).toString("base64")}:${Buffer.from(weights.buffer).toString("base64")}`;
}

/** Hidden-state index and final-LN use per encoder, e.g. "11n" (SD1 clipSkip 1) or "10,30" (SDXL). */
export function layersKey(layers: readonly LayerChoice[]): string {
  return layers.map((l) => `${l.hiddenStateIndex}${l.finalLayerNorm ? "n" : ""}`).join(",");
}

/** The cache key of one prompt (its per-encoder chunk keys joined with "|") at one layer choice. */
export const embeddingKey = (layers: readonly LayerChoice[], promptKey: string): string => `${layersKey(layers)}#${promptKey}`;

export function createEmbeddingCache(maxBytes = DEFAULT_EMBEDDING_CACHE_BYTES): EmbeddingCache {
  if (!(maxBytes >= 0)) throw new Error(`embedding cache: maxBytes must be ≥ 0, got ${maxBytes}`);
  const entries = new Map<string, { value: PromptEmbedding; bytes: number }>(); // insertion order = LRU first
  let bytes = 0;
  let hits = 0;
  let misses = 0;
  let evictions = 0;

  const remove = (key: string): void => {
    const e = entries.get(key);
    if (e === undefined) return;
    entries.delete(key);
    bytes -= e.bytes;
  };

  return {
    get stats() {
      return { entries: entries.size, bytes, maxBytes, hits, misses, evictions };
    },
    get(key) {
      const e = entries.get(key);
      if (e === undefined) {
        misses++;
        return undefined;
      }
      hits++;
      entries.delete(key);
      entries.set(key, e);
      return e.value;
    },
    set(key, value) {
      remove(key);
      const size = entryBytes(key, value);
      if (size > maxBytes) return;
      for (const [k] of entries) {
        if (bytes + size <= maxBytes) break;
        remove(k);
        evictions++;
      }
      entries.set(key, { value, bytes: size });
      bytes += size;
    },
    clear() {
      entries.clear();
      bytes = 0;
    },
  };
}
