import { describe, expect, it } from "vitest";
import type { LayerChoice } from "./clip-skip.js";
import { chunksKey, createEmbeddingCache, embeddingKey, entryBytes, type PromptEmbedding } from "./embedding-cache.js";

const entry = (floats: number): PromptEmbedding => ({ parts: [new Float32Array(floats)] });
const ones = (n: number) => new Array<number>(n).fill(1);

describe("createEmbeddingCache", () => {
  it("returns what was stored and counts hits and misses", () => {
    const cache = createEmbeddingCache(1 << 20);
    const e = entry(10);
    expect(cache.get("a")).toBeUndefined();
    cache.set("a", e);
    expect(cache.get("a")).toBe(e);
    expect(cache.stats).toMatchObject({ entries: 1, bytes: entryBytes("a", e), hits: 1, misses: 1, evictions: 0 });
  });

  it("evicts the least recently used entries to stay within maxBytes", () => {
    const size = entryBytes("a", entry(100));
    const cache = createEmbeddingCache(3 * size);
    for (const k of ["a", "b", "c"]) cache.set(k, entry(100));
    expect(cache.get("a")).toBeDefined(); // a is now the most recent: b is the oldest
    cache.set("d", entry(100));
    expect(cache.get("b")).toBeUndefined();
    expect(["a", "c", "d"].map((k) => cache.get(k) !== undefined)).toEqual([true, true, true]);
    cache.set("e", entry(200)); // needs two slots: the two least recently used (a, c) go
    expect(["a", "c", "d", "e"].map((k) => cache.get(k) !== undefined)).toEqual([false, false, true, true]);
    expect(cache.stats.bytes).toBeLessThanOrEqual(3 * size);
    expect(cache.stats.evictions).toBe(3);
  });

  it("does not store an entry larger than the bound, and stores nothing at 0", () => {
    const small = createEmbeddingCache(100);
    small.set("big", entry(1000));
    expect(small.stats.entries).toBe(0);
    const off = createEmbeddingCache(0);
    off.set("a", entry(1));
    expect(off.get("a")).toBeUndefined();
    expect(off.stats.bytes).toBe(0);
  });

  it("replacing a key keeps one entry and its bytes; clear empties it", () => {
    const cache = createEmbeddingCache(1 << 20);
    cache.set("a", entry(10));
    cache.set("a", entry(20));
    expect(cache.stats).toMatchObject({ entries: 1, bytes: entryBytes("a", entry(20)) });
    cache.clear();
    expect(cache.stats).toMatchObject({ entries: 0, bytes: 0 });
  });

  it("rejects a negative or NaN bound", () => {
    expect(() => createEmbeddingCache(-1)).toThrow(/maxBytes/);
    expect(() => createEmbeddingCache(Number.NaN)).toThrow(/maxBytes/);
  });
});

describe("keys", () => {
  const ids = [49406, 320, 2368, 49407, ...new Array<number>(73).fill(49407)];
  it("differ for any id, any weight bit (0 vs -0), and the chunk split", () => {
    const base = chunksKey([{ ids, weights: ones(77) }]);
    expect(chunksKey([{ ids, weights: ones(77) }])).toBe(base);
    expect(chunksKey([{ ids: [...ids.slice(0, 2), 2369, ...ids.slice(3)], weights: ones(77) }])).not.toBe(base);
    const w = (x: number) => [1, x, ...ones(75)];
    expect(chunksKey([{ ids, weights: w(1.1) }])).not.toBe(chunksKey([{ ids, weights: w(1.1000000000000003) }]));
    expect(chunksKey([{ ids, weights: w(0) }])).not.toBe(chunksKey([{ ids, weights: w(-0) }]));
    const two = [{ ids, weights: ones(77) }, { ids, weights: ones(77) }];
    expect(chunksKey(two)).not.toBe(base);
  });

  it("name the layer and final-LN use of every encoder", () => {
    const l = (i: number, ln: boolean): LayerChoice => ({ encoder: "text_encoder", numLayers: 12, hiddenStateIndex: i, finalLayerNorm: ln });
    expect(embeddingKey([l(11, true)], "p")).not.toBe(embeddingKey([l(11, false)], "p"));
    expect(embeddingKey([l(11, true)], "p")).not.toBe(embeddingKey([l(10, true)], "p"));
    expect(embeddingKey([l(1, false), l(11, false)], "p")).not.toBe(embeddingKey([l(11, false), l(1, false)], "p"));
  });
});
