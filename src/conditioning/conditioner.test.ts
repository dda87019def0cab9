// The conditioner's prompt cache on the golden tiny SD1 and SDXL encoders: hits are bit-identical to a fresh encode
// with the cache disabled, run no encoder, and a partial hit encodes only the missing prompt.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { goldenModelDir } from "../../test/helpers/model-fixtures.js";
import { closeModel, loadDiffusersFolder, type PipelineModel } from "../checkpoint/model.js";
import type { Tensor } from "../tensor/tensor.js";
import { createConditioner, type Conditioner, type EncodeRequest, type PromptEmbeddings } from "./conditioner.js";

const PARTS = ["text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2"];
const LONG = Array.from({ length: 40 }, (_, i) => `word${i}`).join(", "); // > 75 tokens: two chunks

type Req = Omit<EncodeRequest, "clipSkip">;
const CASES: { name: string; req: Req; clipSkips: number[] }[] = [
  { name: "plain", req: { prompt: "a photo of a cat", negativePrompt: "blurry" }, clipSkips: [0] },
  { name: "emphasis, clipSkip sweep", req: { prompt: "(masterpiece:1.3), a [red] fox", negativePrompt: "(lowres:1.2)" }, clipSkips: [0, 1, 2] },
  { name: "two chunks vs one (padding)", req: { prompt: LONG, negativePrompt: "bad (hands:0.8)" }, clipSkips: [1] },
  { name: "diffusers rule", req: { prompt: "a lighthouse", negativePrompt: "ugly", clipSkipRule: "diffusers" }, clipSkips: [2, 0] },
  { name: "no negative", req: { prompt: "a lighthouse" }, clipSkips: [0, 1] },
  { name: "literal", req: { prompt: "(not weighted:1.5)", negativePrompt: "", literal: true }, clipSkips: [1] },
];

const bits = (t: Tensor | undefined): string => (t === undefined ? "none" : `${t.shape.join("x")}:${Buffer.from((t.data as Float32Array).buffer, t.data.byteOffset, t.data.byteLength).toString("base64")}`);

function expectSameBits(a: PromptEmbeddings[], b: PromptEmbeddings[], label: string): void {
  expect(a.length).toBe(b.length);
  a.forEach((x, k) => {
    const y = b[k]!;
    expect(x.chunks, label).toBe(y.chunks);
    expect(x.layers, label).toEqual(y.layers);
    expect(bits(x.promptEmbeds) === bits(y.promptEmbeds), `${label} [${k}] promptEmbeds`).toBe(true);
    expect(bits(x.negativePromptEmbeds) === bits(y.negativePromptEmbeds), `${label} [${k}] negativePromptEmbeds`).toBe(true);
    expect(bits(x.pooledPromptEmbeds) === bits(y.pooledPromptEmbeds), `${label} [${k}] pooled`).toBe(true);
    expect(bits(x.negativePooledPromptEmbeds) === bits(y.negativePooledPromptEmbeds), `${label} [${k}] negative pooled`).toBe(true);
  });
}

beforeAll(() => {
  process.env["VELLUM_CACHE_DIR"] ??= mkdtempSync(join(tmpdir(), "vellum-cache-"));
});

describe.each(["sd1", "sdxl"] as const)("%s conditioner cache", (family) => {
  let model: PipelineModel;
  let cached: Conditioner;
  let fresh: Conditioner;
  const encoders = family === "sdxl" ? 2 : 1;
  const delta = async (c: Conditioner, fn: () => Promise<unknown>) => {
    const [runs, rows] = [c.runs, c.encodedRows];
    await fn();
    return { runs: c.runs - runs, rows: c.encodedRows.map((r, s) => r - rows[s]!) };
  };

  beforeAll(async () => {
    model = loadDiffusersFolder(goldenModelDir(family, undefined, PARTS));
    cached = await createConditioner(model);
    fresh = await createConditioner(model, { embeddingCacheMaxBytes: 0 });
  });
  afterAll(async () => {
    await cached?.release();
    await fresh?.release();
    if (model !== undefined) closeModel(model);
  });

  it.each(CASES)("$name: miss then hit, both bit-identical to an uncached encode; the hit runs no encoder", async ({ req, clipSkips }) => {
    cached.clearCache();
    const want = await fresh.encodeClipSkips(req, clipSkips);
    let miss: PromptEmbeddings[] = [];
    expect((await delta(cached, async () => (miss = await cached.encodeClipSkips(req, clipSkips)))).runs).toBe(encoders);
    let hit: PromptEmbeddings[] = [];
    expect(await delta(cached, async () => (hit = await cached.encodeClipSkips(req, clipSkips)))).toEqual({ runs: 0, rows: new Array(encoders).fill(0) });
    expectSameBits(miss, want, "miss");
    expectSameBits(hit, want, "hit");
    expect(fresh.cache.entries).toBe(0);
    for (const [k, clipSkip] of clipSkips.entries()) expectSameBits([hit[k]!], [await fresh.encode({ ...req, clipSkip })], `clipSkip ${clipSkip} alone`);
  });

  it("a cached negative: the next request encodes only its positive (batch 1), bit-identical to an uncached pair", async () => {
    cached.clearCache();
    const negativePrompt = "(worst quality:1.4), blurry";
    await cached.encode({ prompt: "a cat", negativePrompt, clipSkip: 1 });
    const req = { prompt: "a dog on a beach", negativePrompt, clipSkip: 1 };
    let got: PromptEmbeddings | undefined;
    expect(await delta(cached, async () => (got = await cached.encode(req)))).toEqual({ runs: encoders, rows: new Array(encoders).fill(1) });
    expectSameBits([got!], [await fresh.encode(req)], "partial hit");
    // the positive of an earlier request as a negative: nothing new to encode
    expect((await delta(cached, () => cached.encode({ prompt: negativePrompt, negativePrompt: "a cat", clipSkip: 1 }))).runs).toBe(0);
  });

  it("a different prompt, weight, clipSkip or negative misses", async () => {
    cached.clearCache();
    const base = { prompt: "(a cat:1.1)", negativePrompt: "blurry", clipSkip: 0 };
    await cached.encode(base);
    const variants: [string, EncodeRequest][] = [
      ["prompt", { ...base, prompt: "(a cow:1.1)" }],
      ["weight", { ...base, prompt: "(a cat:1.2)" }],
      ["clipSkip", { ...base, clipSkip: 1 }],
      ["negative", { ...base, negativePrompt: "blurry, lowres" }],
    ];
    for (const [what, req] of variants) {
      const d = await delta(cached, () => cached.encode(req));
      expect(d.runs, what).toBe(encoders);
      const wantRows = what === "clipSkip" ? 2 : 1; // a new layer for both prompts, else only the changed one
      expect(d.rows, what).toEqual(new Array(encoders).fill(wantRows));
    }
    expect((await delta(cached, () => cached.encode(base))).runs).toBe(0);
  });

  it("mutating a returned tensor does not change a later hit", async () => {
    cached.clearCache();
    const req = { prompt: "a red fox", negativePrompt: "blurry", clipSkip: 1 };
    const first = await cached.encode(req);
    const want = bits(first.promptEmbeds);
    for (const t of [first.promptEmbeds, first.negativePromptEmbeds, first.pooledPromptEmbeds, first.negativePooledPromptEmbeds]) t?.data.fill(7);
    const again = await cached.encode(req);
    expect(bits(again.promptEmbeds) === want).toBe(true);
    expectSameBits([again], [await fresh.encode(req)], "after mutation");
  });

  it("stays within its byte bound, evicting the least recently used prompt", async () => {
    const probe = await createConditioner(model);
    await probe.encode({ prompt: "probe", negativePrompt: "probe" });
    const perPrompt = probe.cache.bytes; // one entry: the same text on both sides
    await probe.release();
    const small = await createConditioner(model, { embeddingCacheMaxBytes: Math.floor(2.5 * perPrompt) }); // two entries fit
    try {
      const enc = (prompt: string) => delta(small, () => small.encode({ prompt, negativePrompt: prompt }));
      await enc("alpha");
      await enc("bravo");
      expect((await enc("alpha")).runs).toBe(0); // alpha is now the most recent
      await enc("charlie"); // evicts bravo
      expect(small.cache.entries).toBe(2);
      expect(small.cache.bytes).toBeLessThanOrEqual(small.cache.maxBytes);
      expect((await enc("alpha")).runs).toBe(0);
      expect((await enc("bravo")).runs).toBe(encoders);
    } finally {
      await small.release();
    }
  });
});
