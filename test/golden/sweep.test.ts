// The batched clipSkip sweep (src/pipeline/sweep.ts): each image of a K-value sweep equals diffusers' image for that
// clipSkip (golden pipelines_symmetric triples, same initial latents) and the one-at-a-time render from the seed, at
// the README's image tolerance (image_np abs 2e-3); one encoder run; progress per image; batch cap; cancellation.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeModel, loadDiffusersFolder, type PipelineModel } from "../../src/checkpoint/model.js";
import { openPipeline, type Pipeline } from "../../src/pipeline/pipeline.js";
import { renderImage, type RenderRequest } from "../../src/pipeline/render.js";
import { renderSweep, sweepGroupSize, type SweepContext, type SweepImage, type SweepProgress } from "../../src/pipeline/sweep.js";
import { CancelledError } from "../../src/pipeline/denoise.js";
import { expectClose, goldenJson } from "../helpers/golden.js";
import { goldenModelDir } from "../helpers/model-fixtures.js";
import { caseTensor, symmetricCases, type PipelineCase } from "../helpers/pipeline-cases.js";

const IMAGE_ATOL = 2e-3; // golden/diffusion/README.md: image_np abs 2e-3

async function collect(gen: AsyncGenerator<SweepImage>): Promise<SweepImage[]> {
  const out: SweepImage[] = [];
  for await (const img of gen) out.push(img);
  return out;
}

/** csNone / cs1 / cs2 cases of one configuration, in clipSkip order. */
function triple(prefix: string): PipelineCase[] {
  const cases = symmetricCases(prefix.startsWith("sd2") ? "sd2/pipelines_symmetric" : "pipelines_symmetric");
  const pick = (cs: string) => {
    const c = cases.find((x) => x.name === `${prefix}_${cs}` || x.name === `${prefix}_${cs}_sym`);
    if (c === undefined) throw new Error(`no golden case ${prefix}_${cs}`);
    return c;
  };
  return [pick("csNone"), pick("cs1"), pick("cs2")];
}

describe.each([
  ["sd1_euler_p1_g7.5", 8],
  ["sd1_dpmpp_2m_karras_p0_g1.0", 8],
  ["sd1_dpmpp_2m_karras_p1_g7.5", 4], // groups of 2 + 1 variants
  ["sdxl_euler_t1_g7.5", 2], // one variant per UNet call
] as const)("renderSweep vs diffusers: %s (maxBatch %i)", (prefix, maxBatch) => {
  it("every image equals the golden image of its clipSkip", async () => {
    const cases = triple(prefix);
    const latents = caseTensor(cases[0]!, "initial_latents");
    for (const c of cases.slice(1)) expectClose(caseTensor(c, "initial_latents"), latents, { atol: 0, label: `${c.name} shares the initial latents` });
    const model = loadDiffusersFolder(goldenModelDir(cases[0]!.family, cases[0]!.schedulerConfig));
    const pipeline = await openPipeline(model);
    try {
      const { clipSkip: _, ...request } = cases[0]!.request;
      const runs = pipeline.conditioner.runs;
      const images = await collect(renderSweep(pipeline, { ...request, seed: 0n, latents, format: "png" }, cases.map((c) => c.request.clipSkip ?? 0), { maxBatch }));
      expect(pipeline.conditioner.runs - runs).toBe(pipeline.model.family === "sdxl" ? 2 : 1); // one run per text encoder
      expect(images.map((i) => i.index)).toEqual([0, 1, 2]);
      images.forEach((img, k) => {
        expect(img.clipSkip).toBe(cases[k]!.request.clipSkip);
        expectClose(img.result.image.np, caseTensor(cases[k]!, "image_np"), { atol: IMAGE_ATOL, label: `${cases[k]!.name} image_np (sweep)` });
      });
    } finally {
      await pipeline.release();
      closeModel(model);
    }
  });
});

describe("renderSweep on the tiny SD1 model at 128×128 from a seed", () => {
  let model: PipelineModel;
  let pipeline: Pipeline;
  const clipSkips = [0, 1, 2];
  const base: Omit<RenderRequest, "clipSkip"> = {
    prompt: "a lighthouse at dusk, oil painting",
    negativePrompt: "blurry",
    width: 128,
    height: 128,
    steps: 3,
    guidanceScale: 7,
    scheduler: "Euler a", // ancestral: every variant must draw its own noise from its own seeded generator
    seed: 424242n,
    format: "png",
  };

  beforeAll(async () => {
    const cases = goldenJson<{ cases: { scheduler_config: Record<string, unknown> }[] }>("diffusion", "pipelines/index.json").cases;
    model = loadDiffusersFolder(goldenModelDir("sd1", cases[0]!.scheduler_config));
    pipeline = await openPipeline(model);
  });
  afterAll(async () => {
    await pipeline?.release();
    if (model !== undefined) closeModel(model);
  });

  it("equals one request per clipSkip (image tolerance, same metadata), with one encoder run and progress per image", async () => {
    const progress: SweepProgress[] = [];
    const runs = pipeline.conditioner.runs;
    const ctx: SweepContext = { onProgress: (p) => progress.push(p) };
    const swept = await collect(renderSweep(pipeline, base, clipSkips, ctx));
    expect(pipeline.conditioner.runs - runs).toBe(1);
    for (const [k, clipSkip] of clipSkips.entries()) {
      const single = await renderImage(pipeline, { ...base, clipSkip });
      expectClose(swept[k]!.result.image.np, single.result.image.np, { atol: IMAGE_ATOL, label: `clipSkip ${clipSkip} sweep vs single` });
      expect(swept[k]!.parameters).toBe(single.parameters);
      expect(swept[k]!.parameters).toContain(`vellum clipSkip: ${clipSkip}`);
    }
    const distinct = new Set(swept.map((s) => Buffer.from(s.result.image.rgb).toString("base64")));
    expect(distinct.size).toBe(3);
    for (const imageIndex of [0, 1, 2]) {
      expect(progress.filter((p) => p.imageIndex === imageIndex).map((p) => `${p.step}/${p.total}`)).toEqual(["1/3", "2/3", "3/3"]);
    }
  });

  it("caps the UNet batch: every maxBatch gives the same images", async () => {
    const wide = await collect(renderSweep(pipeline, base, clipSkips, { maxBatch: 6 }));
    const narrow = await collect(renderSweep(pipeline, base, clipSkips, { maxBatch: 2 }));
    for (const k of [0, 1, 2]) expectClose(narrow[k]!.result.image.np, wide[k]!.result.image.np, { atol: IMAGE_ATOL, label: `clipSkip ${k} maxBatch 2 vs 6` });
    expect(sweepGroupSize(8, true)).toBe(4);
    expect(sweepGroupSize(8, false)).toBe(8);
    expect(() => sweepGroupSize(1, true)).toThrow(RangeError);
  });

  it("stops between steps when cancelled", async () => {
    const controller = new AbortController();
    const ctx: SweepContext = { signal: controller.signal, onProgress: (p) => p.step === 1 && controller.abort() };
    await expect(collect(renderSweep(pipeline, base, clipSkips, ctx))).rejects.toBeInstanceOf(CancelledError);
  });
});
