// clipSkip sweep vs separate requests, end to end (encode → denoise → decode): a K-value sweep runs the text
// encoder(s) once and reuses the hidden states for every value; K separate requests run them K times.
// Prints encoder runs, wall time (median over --repeat) and whether both ways give bit-identical images.
// Run: npx tsx bench/sweep.ts --model DIR|FILE [--values 0,1,2,3] [--size 64] [--steps 4] [--repeat 3]
import { parseArgs } from "node:util";
import { loadModel } from "../src/checkpoint/load.js";
import { closeModel } from "../src/checkpoint/model.js";
import { openPipeline, type Pipeline } from "../src/pipeline/pipeline.js";
import { textToImage, type TextToImageRequest } from "../src/pipeline/text-to-image.js";

const USAGE = "usage: npx tsx bench/sweep.ts --model DIR|FILE [--values 0,1,2,3] [--size 64] [--steps 4] [--repeat 3] [--threads T]";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    values: { type: "string", default: "0,1,2,3" },
    size: { type: "string", default: "64" },
    steps: { type: "string", default: "4" },
    repeat: { type: "string", default: "3" },
    threads: { type: "string" },
    prompt: { type: "string", default: "a photo of an astronaut riding a horse on mars" },
    negative: { type: "string", default: "blurry, lowres" },
  },
});
if (values.model === undefined) {
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

interface Measured {
  runs: number;
  ms: number;
  images: Float32Array[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const { model } = loadModel(values.model);
const pipeline = await openPipeline(model, values.threads !== undefined ? { threads: Number(values.threads) } : {});
const base: Omit<TextToImageRequest, "clipSkip"> = {
  prompt: values.prompt,
  negativePrompt: values.negative,
  width: size,
  height: size,
  steps: Number(values.steps),
  guidanceScale: 7,
  seed: 1234n,
};

/** One request carrying all K values: one encode, K denoise + decode. */
async function sweep(p: Pipeline): Promise<Measured> {
  const runs0 = p.conditioner.runs;
  const t0 = performance.now();
  const embeddings = await p.conditioner.encodeClipSkips({ prompt: base.prompt, negativePrompt: base.negativePrompt! }, clipSkips);
  const images: Float32Array[] = [];
  for (const [i, clipSkip] of clipSkips.entries()) {
    const r = await textToImage(p, { ...base, clipSkip }, { embeddings: embeddings[i]! });
    images.push(r.image.np.data);
  }
  return { runs: p.conditioner.runs - runs0, ms: performance.now() - t0, images };
}

/** K independent requests, each encoding its own prompt. */
async function separate(p: Pipeline): Promise<Measured> {
  const runs0 = p.conditioner.runs;
  const t0 = performance.now();
  const images: Float32Array[] = [];
  for (const clipSkip of clipSkips) images.push((await textToImage(p, { ...base, clipSkip })).image.np.data);
  return { runs: p.conditioner.runs - runs0, ms: performance.now() - t0, images };
}

try {
  console.log(`${model.family} ${model.source}: clipSkip values [${clipSkips.join(", ")}] (max ${pipeline.conditioner.maxClipSkip}), ${size}×${size}, ${base.steps} steps, CFG on, ${repeat} repeats (median)`);
  await textToImage(pipeline, { ...base, clipSkip: 0 }); // warm-up: sessions, allocations
  const sweepMs: number[] = [];
  const sepMs: number[] = [];
  let last: { sweep: Measured; separate: Measured } | undefined;
  for (let r = 0; r < repeat; r++) {
    // alternate the order so neither side always runs on a warmer cache
    const a = r % 2 === 0 ? await sweep(pipeline) : undefined;
    const b = await separate(pipeline);
    const s = a ?? (await sweep(pipeline));
    sweepMs.push(s.ms);
    sepMs.push(b.ms);
    last = { sweep: s, separate: b };
  }
  const identical = last!.sweep.images.every((img, i) => Buffer.from(img.buffer).equals(Buffer.from(last!.separate.images[i]!.buffer)));
  const encodeMs: number[] = [];
  for (let r = 0; r < repeat; r++) {
    const t0 = performance.now();
    await pipeline.conditioner.encode({ prompt: base.prompt, negativePrompt: base.negativePrompt!, clipSkip: 0 });
    encodeMs.push(performance.now() - t0);
  }
  const k = clipSkips.length;
  console.log(`sweep (1 request, K = ${k}):    ${last!.sweep.runs} text-encoder run(s), ${median(sweepMs).toFixed(1)} ms`);
  console.log(`separate (${k} requests):       ${last!.separate.runs} text-encoder run(s), ${median(sepMs).toFixed(1)} ms`);
  console.log(`one encode call: ${median(encodeMs).toFixed(1)} ms; saved ${(median(sepMs) - median(sweepMs)).toFixed(1)} ms (${(100 * (1 - median(sweepMs) / median(sepMs))).toFixed(1)} %)`);
  console.log(`images bit-identical between the two ways: ${identical}`);
  console.log(JSON.stringify({ family: model.family, values: clipSkips, size, steps: base.steps, sweep: { runs: last!.sweep.runs, ms: median(sweepMs) }, separate: { runs: last!.separate.runs, ms: median(sepMs) }, encodeMs: median(encodeMs), identical }));
} finally {
  await pipeline.release();
  closeModel(model);
}
