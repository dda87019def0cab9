// SDXL text encoders kept in 16 bits (Cast at run time, ONNX Runtime level "disabled"): the same embeddings as
// float32 copies, and no float32 sidecar written for them.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { goldenPath } from "../../test/helpers/golden.js";
import { loadModel } from "../checkpoint/load.js";
import { closeModel } from "../checkpoint/model.js";
import { openSessionCount } from "../runtime/index.js";
import { createConditioner, type PromptEmbeddings } from "./conditioner.js";
import { useTempCacheDir } from "../../test/helpers/cache-dir.js";

const { cache } = useTempCacheDir("vellum-compact-");


/** Files in the cache's model folders whose names start with `prefix`. */
const cached = (prefix: string) => readdirSync(join(cache, "onnx")).flatMap((d) => readdirSync(join(cache, "onnx", d)).filter((f) => f.startsWith(prefix)));

async function encode(compact: boolean): Promise<PromptEmbeddings> {
  const { model } = loadModel(goldenPath("diffusion", "single_file", "tiny_sdxl_fp16.safetensors"));
  const conditioner = await createConditioner(model, { threads: 1, compactTextEncoders: compact, embeddingCacheMaxBytes: 0 });
  try {
    return await conditioner.encode({ prompt: "a (lighthouse:1.3) at dusk", negativePrompt: "blurry", clipSkip: 1 });
  } finally {
    await conditioner.release();
    closeModel(model);
  }
}

describe("compact (16-bit) SDXL text encoders", () => {
  it("are closed between encodes (not resident while the UNet runs) and reopen to the same results", async () => {
    const { model } = loadModel(goldenPath("diffusion", "single_file", "tiny_sdxl_fp16.safetensors"));
    const before = openSessionCount();
    const c = await createConditioner(model, { threads: 1, embeddingCacheMaxBytes: 0 });
    try {
      expect(openSessionCount()).toBe(before); // opened once at load (a broken model fails there), then closed
      const req = { prompt: "a (lighthouse:1.3) at dusk", negativePrompt: "blurry", clipSkip: 1 };
      const [a, b] = await Promise.all([c.encode(req), c.encode(req)]); // concurrent encodes share the open session
      expect(openSessionCount()).toBe(before);
      const again = await c.encode(req);
      expect(openSessionCount()).toBe(before);
      for (const r of [b, again]) expect(Buffer.from((r.promptEmbeds.data as Float32Array).buffer).equals(Buffer.from((a.promptEmbeds.data as Float32Array).buffer))).toBe(true);
    } finally {
      await c.release();
      closeModel(model);
    }
  });

  it("encode each prompt alone, so a cached negative gives the same bits as encoding both together", async () => {
    const { model } = loadModel(goldenPath("diffusion", "single_file", "tiny_sdxl_fp16.safetensors"));
    const fresh = await createConditioner(model, { threads: 1, embeddingCacheMaxBytes: 0 });
    const cached = await createConditioner(model, { threads: 1 });
    try {
      const req = { prompt: "a (lighthouse:1.3) at dusk", negativePrompt: "blurry, lowres", clipSkip: 0 };
      const both = await fresh.encode(req);
      const runs = fresh.runs;
      expect(runs).toBe(4); // two encoders × two prompts
      await cached.encode({ prompt: req.negativePrompt, negativePrompt: req.negativePrompt, clipSkip: 0 });
      const withCachedNegative = await cached.encode(req);
      for (const key of ["promptEmbeds", "negativePromptEmbeds", "pooledPromptEmbeds", "negativePooledPromptEmbeds"] as const) {
        expect(Buffer.from((withCachedNegative[key]!.data as Float32Array).buffer).equals(Buffer.from((both[key]!.data as Float32Array).buffer)), key).toBe(true);
      }
    } finally {
      await Promise.all([fresh.release(), cached.release()]);
      closeModel(model);
    }
  });

  it("give the float32 copies' embeddings, and write no float32 sidecar", async () => {
    const compact = await encode(true);
    expect(cached("f32-")).toEqual([]);
    const wide = await encode(false);
    expect(cached("f32-").length).toBeGreaterThan(0);
    for (const key of ["promptEmbeds", "negativePromptEmbeds", "pooledPromptEmbeds", "negativePooledPromptEmbeds"] as const) {
      const a = compact[key]!.data as Float32Array;
      const b = wide[key]!.data as Float32Array;
      expect(a.length).toBe(b.length);
      const scale = b.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const worst = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
      // same weights and ops; only ONNX Runtime's fusions differ (float rounding)
      expect(worst, key).toBeLessThanOrEqual(1e-5 * scale);
    }
  });
});
