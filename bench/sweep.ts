// clipSkip sweep vs separate requests, end to end (encode → denoise → decode → PNG), three ways:
//   batched   — one request through renderSweep: one text-encoder run, ONE UNet call per step for all K values
//               (batch 2K with CFG, split into groups of ≤ --max-batch);
//   sequential — one encoder run, then K renders one after another (the sweep before batching);
//   separate  — K independent requests, each encoding its own prompt.
// Prints text-encoder runs, UNet runs, wall time (median over --repeat) and the largest image difference between
// the batched images and the separate ones (the golden image tolerance is abs 2e-3).
// Run: npx tsx bench/sweep.ts --model DIR|FILE | --golden sd1|sdxl  [--values 0,1,2] [--size 128] [--steps 4]
//      [--repeat 3] [--max-batch 8] [--threads T]
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadModel } from "../src/checkpoint/load.js";
import { closeModel } from "../src/checkpoint/model.js";
import { openPipeline, type Pipeline } from "../src/pipeline/pipeline.js";
import { renderImage, type RenderRequest } from "../src/pipeline/render.js";
import { renderSweep } from "../src/pipeline/sweep.js";

const USAGE = "usage: npx tsx bench/sweep.ts --model DIR|FILE | --golden sd1|sdxl [--values 0,1,2] [--size 128] [--steps 4] [--repeat 3] [--max-batch 8] [--threads T]";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    golden: { type: "string" },
    values: { type: "string", default: "0,1,2" },
    size: { type: "string", default: "128" },
    steps: { type: "string", default: "4" },
    repeat: { type: "string", default: "3" },
    "max-batch": { type: "string", default: "8" },
    threads: { type: "string" },
    prompt: { type: "string", default: "a photo of an astronaut riding a horse on mars" },
    negative: { type: "string", default: "blurry, lowres" },
  },
});

/** The tiny golden model as a diffusers folder (links to ../shared/golden; the first pipeline case's scheduler). */
function goldenModel(family: string): string {
  if (family !== "sd1" && family !== "sdxl") throw new Error(`--golden must be sd1 or sdxl, got ${family}`);
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../shared/golden/diffusion");
  const index = JSON.parse(readFileSync(join(root, "pipelines/index.json"), "utf8")) as {
    components: Record<string, Record<string, string>>;
    cases: { name: string; scheduler_config: Record<string, unknown> }[];
  };
  const dir = mkdtempSync(join(tmpdir(), `vellum-bench-${family}-`));
  for (const [name, rel] of Object.entries(index.components[family]!)) symlinkSync(join(root, rel), join(dir, name), "dir");
  mkdirSync(join(dir, "scheduler"));
  writeFileSync(join(dir, "scheduler/scheduler_config.json"), JSON.stringify(index.cases.find((c) => c.name.startsWith(`${family}_`))!.scheduler_config));
  return dir;
}

const modelPath = values.model ?? (values.golden !== undefined ? goldenModel(values.golden) : undefined);
if (modelPath === undefined) {
  console.error(USAGE);
  process.exit(2);
}
const clipSkips = values.values.split(",").map((s) => Number(s.trim()));
if (clipSkips.some((c) => !Number.isInteger(c) || c < 0)) {
  console.error(`--values must be integers ≥ 0, got ${values.values}`);
  process.exit(2);
}
const size = Number(values.size);
const repeat = Math.max(1, Number(values.repeat));
const maxBatch = Number(values["max-batch"]);

interface Measured {
  encoderRuns: number;
  unetRuns: number;
  ms: number;
  images: Float32Array[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const { model } = loadModel(modelPath);
const opened = await openPipeline(model, values.threads !== undefined ? { threads: Number(values.threads) } : {});
let unetRuns = 0;
// The same pipeline with its UNet calls counted.
const pipeline: Pipeline = { ...opened, unet: { ...opened.unet, run: (feeds) => (unetRuns++, opened.unet.run(feeds)) } };

const base: Omit<RenderRequest, "clipSkip"> = {
  prompt: values.prompt,
  negativePrompt: values.negative,
  width: size,
  height: size,
  steps: Number(values.steps),
  guidanceScale: 7,
  seed: 1234n,
  format: "png",
};

async function measure(run: () => Promise<Float32Array[]>): Promise<Measured> {
  const runs0 = pipeline.conditioner.runs;
  const unet0 = unetRuns;
  const t0 = performance.now();
  const images = await run();
  return { encoderRuns: pipeline.conditioner.runs - runs0, unetRuns: unetRuns - unet0, ms: performance.now() - t0, images };
}

/** One request, K values, batched UNet. */
const batched = () =>
  measure(async () => {
    const images: Float32Array[] = [];
    for await (const img of renderSweep(pipeline, base, clipSkips, { maxBatch })) images.push(img.result.image.np.data);
    return images;
  });

/** One request, K values, one encode, renders one after another. */
const sequential = () =>
  measure(async () => {
    const embeddings = await pipeline.conditioner.encodeClipSkips({ prompt: base.prompt, negativePrompt: base.negativePrompt! }, clipSkips);
    const images: Float32Array[] = [];
    for (const [i, clipSkip] of clipSkips.entries()) images.push((await renderImage(pipeline, { ...base, clipSkip }, { embeddings: embeddings[i]! })).result.image.np.data);
    return images;
  });

/** K independent requests. */
const separate = () =>
  measure(async () => {
    const images: Float32Array[] = [];
    for (const clipSkip of clipSkips) images.push((await renderImage(pipeline, { ...base, clipSkip })).result.image.np.data);
    return images;
  });

function maxAbsDiff(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let m = 0;
  a.forEach((x, k) => x.forEach((v, i) => (m = Math.max(m, Math.abs(v - b[k]![i]!)))));
  return m;
}

try {
  const k = clipSkips.length;
  console.log(`${model.family} ${model.source}: clipSkip values [${clipSkips.join(", ")}] (max ${pipeline.conditioner.maxClipSkip}), ${size}×${size}, ${base.steps} steps, CFG on, max UNet batch ${maxBatch}, ${repeat} repeats (median)`);
  await renderImage(pipeline, { ...base, clipSkip: 0 }); // warm-up: sessions, allocations
  for await (const _ of renderSweep(pipeline, base, clipSkips, { maxBatch })); // warm-up of the batch-2K shapes
  const ways = { batched, sequential, separate };
  const ms: Record<keyof typeof ways, number[]> = { batched: [], sequential: [], separate: [] };
  const last = {} as Record<keyof typeof ways, Measured>;
  const names = Object.keys(ways) as (keyof typeof ways)[];
  for (let r = 0; r < repeat; r++) {
    // rotate the order so no way always runs on the warmest cache
    for (let j = 0; j < names.length; j++) {
      const name = names[(j + r) % names.length]!;
      last[name] = await ways[name]();
      ms[name].push(last[name].ms);
    }
  }
  const line = (label: string, m: Measured, t: number) =>
    console.log(`${label.padEnd(34)} ${m.encoderRuns} text-encoder run(s), ${String(m.unetRuns).padStart(3)} UNet run(s), ${t.toFixed(1).padStart(8)} ms`);
  line(`batched sweep (1 request, K = ${k})`, last.batched, median(ms.batched));
  line(`sequential sweep (1 request)`, last.sequential, median(ms.sequential));
  line(`separate (${k} requests)`, last.separate, median(ms.separate));
  const saved = median(ms.separate) - median(ms.batched);
  console.log(`batched vs separate: saved ${saved.toFixed(1)} ms (${((100 * saved) / median(ms.separate)).toFixed(1)} %); batched vs sequential: ${(median(ms.sequential) - median(ms.batched)).toFixed(1)} ms`);
  console.log(`max |image_np| difference batched vs separate: ${maxAbsDiff(last.batched.images, last.separate.images).toExponential(2)} (golden tolerance 2e-3)`);
  console.log(
    JSON.stringify({
      family: model.family,
      values: clipSkips,
      size,
      steps: base.steps,
      maxBatch,
      ...Object.fromEntries(names.map((n) => [n, { encoderRuns: last[n].encoderRuns, unetRuns: last[n].unetRuns, ms: Number(median(ms[n]).toFixed(1)) }])),
    }),
  );
} finally {
  await opened.release();
  closeModel(model);
}
