// npm run bench -- --model FILE [--size 512] [--steps N] [--runs 3] [--threads T] [--device cpu|webgpu|cuda] …
// Per stage: median and min wall time over runs, achieved GFLOP/s from FLOPs counted on the configs (bench/flops.ts),
// peak RSS (VmHWM), then one JSON line. `load→first step` is measured from reading the checkpoint header to the first
// CFG UNet step's output, text encoders and UNet session included ("load→ready" stops when the sessions are open);
// the first load of a process is "new" only when the cache holds nothing for the model (--fresh-cache).
import { mkdtempSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadModel } from "../src/checkpoint/load.js";
import { closeModel } from "../src/checkpoint/model.js";
import { DEVICES, listSupportedBackends, resolveOptions, type Device, type OptimizationLevel, type SessionOptions } from "../src/runtime/index.js";
import { UNET_SESSION } from "../src/pipeline/pipeline.js";
import { decodeVAE, shouldTile } from "../src/pipeline/vae-tiling.js";
import { VAE_DECODER_INPUT } from "../src/models/vae.js";
import { unetFlops, vaeDecoderFlops } from "./flops.js";
import {
  benchModel,
  cfgStepFeeds,
  openConditioner,
  openUNet,
  openVAEDecoder,
  PROMPT,
  runUNet,
  sameEmbeddings,
  timeTextEncode,
  vaeFeeds,
} from "./stages.js";
import { runPipeline } from "./pipeline-run.js";
import { formatProfile, summarizeProfile } from "./profile-summary.js";
import { cpuMsSince, formatStage, gib, procStatusBytes, resetPeakRss, summarize, timeStage, type StageResult } from "./stats.js";

const USAGE = `usage: npm run bench -- --model FILE [--size 512] [--steps N] [--runs 3] [--load-runs R] [--threads T] [--inter-op T]
  [--device cpu|webgpu|cuda] [--attention mha|unfused] [--opt-level disabled|basic|extended|all] [--prepack on|off] [--arena on|off]
  [--f32-weights on|off] [--cache-optimized | --no-cache-optimized] [--cache-dir DIR | --fresh-cache] [--stages load,text,unet,vae] [--profile PREFIX] [--list-backends]
  --profile: profile the UNet session and print its kernel time per operator type
  --opt-level: every session's ONNX Runtime level (default: the pipeline's, UNet "extended", others "all")
  --cache-optimized: save/load ONNX Runtime's optimised model (default off)
  --f32-weights: CPU: widen 16-bit checkpoint weights once into a float32 file in the cache (default on) or Cast in-graph (off)`;

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    size: { type: "string", default: "512" },
    steps: { type: "string", default: "0" },
    runs: { type: "string", default: "3" },
    "load-runs": { type: "string" },
    threads: { type: "string" },
    "inter-op": { type: "string" },
    device: { type: "string", default: "cpu" },
    attention: { type: "string" },
    "opt-level": { type: "string" },
    prepack: { type: "string" },
    arena: { type: "string" },
    "f32-weights": { type: "string" },
    "cache-optimized": { type: "boolean", default: false },
    "no-cache-optimized": { type: "boolean", default: false },
    "cache-dir": { type: "string" },
    "fresh-cache": { type: "boolean", default: false },
    stages: { type: "string", default: "load,text,unet,vae" },
    "list-backends": { type: "boolean", default: false },
    profile: { type: "string" },
    help: { type: "boolean", default: false },
  },
});

if (values["list-backends"]) {
  for (const b of listSupportedBackends()) console.log(`${b.name.padEnd(10)} bundled=${b.bundled} installed=${b.installed}`);
  process.exit(0);
}
if (values.help || values.model === undefined) {
  console.error(USAGE);
  process.exit(values.help ? 0 : 2);
}
if (!(DEVICES as readonly string[]).includes(values.device)) throw new Error(`--device must be one of ${DEVICES.join(", ")}`);
if (values.attention !== undefined) process.env["VELLUM_ATTENTION"] = values.attention; // read when graphs are built
if (values["fresh-cache"]) process.env["VELLUM_CACHE_DIR"] = mkdtempSync(join(tmpdir(), "vellum-bench-cache-"));
else if (values["cache-dir"] !== undefined) process.env["VELLUM_CACHE_DIR"] = values["cache-dir"];

const size = Number(values.size);
const runs = Number(values.runs);
const loadRuns = Number(values["load-runs"] ?? values.runs);
const stages = new Set(values.stages.split(","));
const opts: SessionOptions = {
  device: values.device as Device,
  ...(values["cache-optimized"] && { cacheOptimized: true }),
  ...(values["no-cache-optimized"] && { cacheOptimized: false }),
  ...(values.threads !== undefined && { threads: Number(values.threads) }),
  ...(values["inter-op"] !== undefined && { interOpThreads: Number(values["inter-op"]) }),
  ...(values["opt-level"] !== undefined && { optimizationLevel: values["opt-level"] as OptimizationLevel }),
  ...(values.prepack !== undefined && { prepacking: values.prepack !== "off" }),
  ...(values.arena !== undefined && { memArena: values.arena !== "off" }),
  ...(values["f32-weights"] !== undefined && { float32Weights: values["f32-weights"] !== "off" }),
};
const resolved = { ...resolveOptions(opts), unetOptimizationLevel: opts.optimizationLevel ?? UNET_SESSION.optimizationLevel };
const loadBefore = loadavg()[0]!;
console.log(`model ${values.model}, ${size}×${size}, ${runs} runs; ${cpus().length} × ${cpus()[0]?.model ?? "?"}; load average ${loadBefore.toFixed(1)}`);
console.log(`options ${JSON.stringify({ ...resolved, attention: process.env["VELLUM_ATTENTION"] ?? "mha", cache: process.env["VELLUM_CACHE_DIR"] ?? "default" })}`);

const results: StageResult[] = [];
const report = (r: StageResult): void => {
  results.push(r);
  console.log(formatStage(r));
};
const latent = size / 8;

// load → first CFG step; the last load's sessions serve the other stages
const loadMs: number[] = [];
const loadCpuMs: number[] = [];
const openMs: number[] = [];
const loadPeaks: number[] = [];
let open: Awaited<ReturnType<typeof openAll>> | undefined;
async function openAll() {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const m = benchModel(loadModel(values.model!).model);
  const conditioner = await openConditioner(m, opts);
  const unet = await openUNet(m, values.profile === undefined ? opts : { ...opts, profilePrefix: values.profile });
  openMs.push(performance.now() - t0);
  const emb = await conditioner.encode(PROMPT);
  const feeds = cfgStepFeeds(m, emb, latent, latent);
  await runUNet(unet, feeds);
  loadMs.push(performance.now() - t0);
  loadCpuMs.push(cpuMsSince(c0));
  return { m, conditioner, unet, feeds };
}
const loadCount = stages.has("load") ? Math.max(1, loadRuns) : 1;
for (let i = 0; i < loadCount; i++) {
  if (open !== undefined) {
    await Promise.all([open.conditioner.release(), open.unet.release()]);
    closeModel(open.m.model);
  }
  const rssBefore = procStatusBytes("VmRSS");
  resetPeakRss();
  open = await openAll();
  const runPeak = procStatusBytes("VmHWM");
  loadPeaks.push(runPeak ?? 0);
  console.log(
    `  load→first step run ${i + 1}: ${(loadMs.at(-1)! / 1000).toFixed(2)} s (sessions ready after ${(openMs.at(-1)! / 1000).toFixed(2)} s), ` +
      `RSS before ${gib(rssBefore)}, after ${gib(procStatusBytes("VmRSS"))}, peak during ${gib(runPeak)}`,
  );
}
const { m, conditioner, unet, feeds } = open!;
if (stages.has("load")) {
  report(summarize("load→ready (1st)", openMs.slice(0, 1), 0));
  report(summarize("load→first step (1st)", loadMs.slice(0, 1), 0, loadCpuMs.slice(0, 1)));
  if (loadMs.length > 1) {
    report(summarize("load→ready (repeat)", openMs.slice(1), 0));
    report(summarize("load→first step (repeat)", loadMs.slice(1), 0, loadCpuMs.slice(1)));
  }
}

/** The process's peak RSS so far (VmHWM was reset before each load). */
const peakSoFar = (): number => Math.max(procStatusBytes("VmHWM") ?? 0, ...loadPeaks);
const printPeak = (after: string): void => console.log(`  peak RSS after ${after}: ${gib(peakSoFar())}`);

const unetStepFlops = unetFlops(m.unetConfig, { batch: 2, height: latent, width: latent, contextTokens: 77 });
let textCacheBitIdentical: boolean | undefined;
if (stages.has("text")) {
  // The conditioner caches encoded prompts: "new" runs clear it first; "neg cached" encodes the negative untimed.
  const { prompt, negativePrompt } = PROMPT;
  const clear = async () => conditioner.clearCache();
  const both = await timeTextEncode("text encode, pos + neg (both new)", runs, m, conditioner, clear, () => conditioner.encode(PROMPT));
  // the same text on both sides is encoded once: one prompt, batch 1
  const one = await timeTextEncode("text encode, one prompt", runs, m, conditioner, clear, () => conditioner.encode({ prompt, negativePrompt: prompt }));
  const negCached = () => clear().then(() => conditioner.encode({ prompt: negativePrompt, negativePrompt }));
  const posNew = await timeTextEncode("text encode, pos new + neg cached", runs, m, conditioner, negCached, () => conditioner.encode(PROMPT));
  for (const r of [both, one, posNew]) report(r.result);
  textCacheBitIdentical = sameEmbeddings(posNew.last, both.last);
  console.log(`  pos new + neg cached bit-identical to both new: ${textCacheBitIdentical}`);
  printPeak("text");
}
if (stages.has("unet")) {
  report(await timeStage("UNet CFG step", runs, unetStepFlops, () => runUNet(unet, feeds)));
  printPeak("UNet");
}
if (values.profile !== undefined) {
  const file = unet.endProfiling();
  console.log(`UNet kernel time by operator (${file}, first step included):\n${formatProfile(summarizeProfile(file))}`);
}
let vaeOpenMs = 0;
if (stages.has("vae") || Number(values.steps) > 0) {
  const t0 = performance.now();
  const decoder = await openVAEDecoder(m, opts);
  vaeOpenMs = performance.now() - t0;
  console.log(`  VAE decoder session: ${(vaeOpenMs / 1000).toFixed(2)} s`);
  if (stages.has("vae")) {
    const flops = vaeDecoderFlops(m.vaeConfig, { batch: 1, height: latent, width: latent });
    // as the pipeline decodes: tiled above 768 × 768 px (vae-tiling.ts, policy "auto")
    const tiled = shouldTile("auto", latent, latent);
    report(await timeStage(`VAE decode${tiled ? " (tiled)" : ""}`, runs, flops, () => decodeVAE(decoder, vaeFeeds(m, latent, latent)[VAE_DECODER_INPUT]!, { mode: "auto" })));
    printPeak("VAE");
  }
  if (Number(values.steps) > 0) {
    const steps = Number(values.steps);
    conditioner.clearCache(); // PROMPT is cached since the load: the pipeline run encodes it as a new request
    const ms = await runPipeline(m, conditioner, unet, decoder, { size, steps });
    report(summarize(`pipeline ${steps} steps`, [ms], 0));
  }
}
// VmHWM was reset before each load: the process peak is the larger of the load peaks and what came after
const peak = peakSoFar();
console.log(`load average ${loadavg()[0]!.toFixed(1)} (machine shared with other work: compare cpu times when it is above the core count)`);
console.log(`peak RSS ${gib(peak)}; UNet step ${(unetStepFlops / 1e9).toFixed(0)} GFLOP; VAE open ${(vaeOpenMs / 1000).toFixed(2)} s`);
console.log(
  JSON.stringify({
    model: values.model,
    size,
    options: { ...resolved, attention: process.env["VELLUM_ATTENTION"] ?? "mha" },
    stages: Object.fromEntries(results.map((r) => [r.stage, { medianMs: r.medianMs, minMs: r.minMs, runsMs: r.runsMs, cpuMs: r.cpuMs, flops: r.flops, gflops: r.gflops }])),
    loadAverage: [loadBefore, loadavg()[0]],
    vaeOpenMs,
    ...(textCacheBitIdentical !== undefined && { textCacheBitIdentical }),
    loadPeakRssBytes: loadPeaks,
    peakRssBytes: peak,
  }),
);
