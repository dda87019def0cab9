// The model pool and the pipeline generator on the tiny golden SD1 model: reuse, LRU eviction (count and weight
// budget) that releases sessions, entries in use never evicted, LoRA variants sharing (never altering) the base,
// cancellation between steps, refusals with codes.
import { describe, expect, it } from "vitest";
import { ModelPool, poolKey } from "../../src/jobs/model-pool.js";
import { createPipelineGenerator, seedAt } from "../../src/jobs/pipeline-generator.js";
import type { GenerateRequest } from "../../src/jobs/types.js";
import { createWorkerGenerator } from "../../src/jobs/worker-generator.js";
import { openSessionCount } from "../../src/runtime/index.js";
import { LORA_AIR, tinyCatalog } from "./helpers/test-server.js";

async function entries() {
  const tiny = await tinyCatalog();
  return { sd1: tiny.sd1, lora: tiny.catalog.resolve(LORA_AIR)!, vae: tiny.catalog.resolve("vellum:tiny-vae@1")! };
}

async function request(extra: Partial<GenerateRequest> = {}): Promise<GenerateRequest> {
  const { sd1 } = await entries();
  return {
    taskUUID: "t", model: sd1, prompt: "a green apple", negativePrompt: "", widthPx: 64, heightPx: 64, steps: 2,
    guidanceScale: 7, seed: 9n, clipSkip: 0, loras: [], strength: 0.8, numberResults: 1, output: { format: "png", quality: 95 },
    ...extra,
  };
}

const never = () => ({ signal: new AbortController().signal, onProgress: () => {} });

async function collect(gen: AsyncIterable<{ bytes: Uint8Array }>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const img of gen) out.push(Buffer.from(img.bytes));
  return out;
}

describe("ModelPool", () => {
  it("reuses a loaded pipeline, shares one load between concurrent callers, keys by model/VAE/LoRAs", async () => {
    const { sd1, lora, vae } = await entries();
    const pool = new ModelPool({ maxPipelines: 3, threads: 1 });
    const [a, b] = await Promise.all([pool.acquire({ model: sd1, loras: [] }), pool.acquire({ model: sd1, loras: [] })]);
    expect(a.pipeline).toBe(b.pipeline);
    a.release();
    b.release();
    const c = await pool.acquire({ model: sd1, loras: [] });
    expect(c.pipeline).toBe(a.pipeline);
    c.release();
    expect(pool.stats().loads).toBe(1);
    expect(poolKey({ model: sd1, loras: [{ entry: lora, weight: 0.5 }] })).not.toBe(poolKey({ model: sd1, loras: [{ entry: lora, weight: 1 }] }));
    expect(poolKey({ model: sd1, vae, loras: [] })).not.toBe(poolKey({ model: sd1, loras: [] }));
    await pool.close();
  });

  it("evicts the least recently used idle pipeline, releasing its sessions; never one in use", async () => {
    const { sd1, lora } = await entries();
    const baseline = openSessionCount();
    const pool = new ModelPool({ maxPipelines: 1, threads: 1 });
    const base = await pool.acquire({ model: sd1, loras: [] });
    const withLora = await pool.acquire({ model: sd1, loras: [{ entry: lora, weight: 1 }] });
    expect(pool.stats().pipelines).toHaveLength(2); // over the bound while both are in use
    expect(pool.stats().baseModels).toBe(1); // the LoRA variant overlays the cached base
    base.release();
    await new Promise((r) => setTimeout(r, 20));
    expect(pool.stats().pipelines.map((p) => p.key)).toEqual([poolKey({ model: sd1, loras: [{ entry: lora, weight: 1 }] })]);
    expect(pool.stats().baseModels).toBe(1); // still used by the LoRA variant
    withLora.release();
    await pool.close();
    expect(pool.stats().pipelines).toHaveLength(0);
    expect(pool.stats().baseModels).toBe(0);
    expect(openSessionCount()).toBe(baseline);
  });

  it("enforces the weight budget: a model larger than it is refused with modelNotReady", async () => {
    const { sd1 } = await entries();
    const pool = new ModelPool({ memoryBudgetBytes: 1024 });
    await expect(pool.acquire({ model: sd1, loras: [] })).rejects.toMatchObject({ code: "modelNotReady" });
    expect(pool.stats().pipelines).toHaveLength(0);
    expect(pool.stats().baseModels).toBe(0);
    await pool.close();
  });
});

describe("pipeline generator", () => {
  it("a LoRA variant never alters the base: base, base+LoRA, base again", async () => {
    const { lora } = await entries();
    const g = createPipelineGenerator({ maxPipelines: 1, threads: 1 });
    const [first] = await collect(g.generate(await request(), never()));
    const [merged] = await collect(g.generate(await request({ loras: [{ entry: lora, weight: 1 }] }), never()));
    const [again] = await collect(g.generate(await request(), never()));
    expect(first!.equals(merged!)).toBe(false);
    expect(first!.equals(again!)).toBe(true);
    expect(g.pool.stats().loads).toBe(3); // maxPipelines 1: each switch reloads the pipeline, from the cached base
    await g.close();
  });

  it("cancels between steps with the signal's reason and gives the pipeline back", async () => {
    const g = createPipelineGenerator({ threads: 1 });
    const ctl = new AbortController();
    const reason = Object.assign(new Error("stop"), { code: "taskCancelled" });
    const steps: number[] = [];
    const run = collect(g.generate(await request({ steps: 4, numberResults: 2 }), { signal: ctl.signal, onProgress: (p) => (steps.push(p.step), p.step === 1 && ctl.abort(reason)) }));
    await expect(run).rejects.toBe(reason);
    expect(steps).toEqual([1]);
    expect(g.pool.stats().pipelines.every((p) => p.users === 0)).toBe(true);
    await g.close();
  });

  it("refuses clipSkip beyond the encoder with invalidClipSkip and the model's range; image i uses seed + i, wrapping", async () => {
    const g = createPipelineGenerator({ threads: 1 });
    const r = await request({ clipSkip: 99 });
    await expect(collect(g.generate(r, never()))).rejects.toMatchObject({ code: "invalidClipSkip", parameter: "clipSkip", min: 0, max: r.model.maxClipSkip });
    expect(seedAt(5n, 2)).toBe(7n);
    expect(seedAt(2n ** 63n - 1n, 1)).toBe(1n);
    await g.close();
  });
});

describe("worker generator (what `vellum serve` runs)", () => {
  it("produces the same bytes as the in-thread generator, forwards progress, error details and cancellation", async () => {
    const w = createWorkerGenerator({ threads: 1 });
    const local = createPipelineGenerator({ threads: 1 });
    const req = await request({ numberResults: 2, clipSkip: 1 });
    const progress: number[] = [];
    const viaWorker: Buffer[] = [];
    for await (const img of w.generate(req, { signal: new AbortController().signal, onProgress: (p) => progress.push(p.imageIndex * 10 + p.step) })) viaWorker.push(Buffer.from(img.bytes));
    const inThread = await collect(local.generate(req, never()));
    expect(viaWorker.map((b, i) => b.equals(inThread[i]!))).toEqual([true, true]);
    expect(progress).toEqual([1, 2, 11, 12]);
    await expect(collect(w.generate(await request({ clipSkip: 99 }), never()))).rejects.toMatchObject({ code: "invalidClipSkip", parameter: "clipSkip", min: 0, max: req.model.maxClipSkip });
    const ctl = new AbortController();
    const reason = Object.assign(new Error("stop"), { code: "taskCancelled" });
    const run = collect(w.generate(await request({ steps: 4 }), { signal: ctl.signal, onProgress: (p) => p.step === 1 && ctl.abort(reason) }));
    await expect(run).rejects.toBe(reason);
    expect((await w.stats()).pipelines.every((p) => p.users === 0)).toBe(true);
    await Promise.all([w.close(), local.close()]);
  });
});
