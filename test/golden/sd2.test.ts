// Issue 11 "done when" (golden/diffusion/README.md §7): SD2 / v-prediction end to end.
// - `vellum generate --model DIR` reproduces the zero-SNR + trailing case (guidance_rescale 0.7) and DPM++ cases;
// - tiny_sd2.safetensors (+ yaml / config.json sidecars) gives the same images as the folder (the sd2 goldens);
// - its 5-layer OpenCLIP tower reproduces text_encoder_io's original_hidden_states, the 4-layer encoder the
//   last_hidden_state, and its UNet unet_io (the folder UNet is covered by unet.test.ts);
// - running the v-prediction model as epsilon is far outside tolerance (index `sensitivity`);
// - every prediction-type source is detected, and `vellum inspect` prints the type and its source.
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadModel } from "../../src/checkpoint/load.js";
import { closeModel, type PipelineModel } from "../../src/checkpoint/model.js";
import { readSafetensors, SafetensorsFile, writeSafetensors } from "../../src/checkpoint/safetensors.js";
import { singleFileInfo, type SingleFileOptions } from "../../src/checkpoint/single-file.js";
import { openClipSources } from "../../src/checkpoint/keymap/clip.js";
import { fileWeight, WeightMap, type WeightRef } from "../../src/checkpoint/weights.js";
import { FolderCatalog } from "../../src/catalog/index.js";
import { generate } from "../../src/cli/generate.js";
import { inspect } from "../../src/cli/inspect.js";
import { buildClipTextGraph, CLIP_OUTPUTS, parseClipTextConfig } from "../../src/models/clip-text.js";
import { buildUNetGraph, unetConfigFromJson, UNET_INPUTS, UNET_OUTPUT } from "../../src/models/unet.js";
import { openPipeline } from "../../src/pipeline/pipeline.js";
import { textToImage } from "../../src/pipeline/text-to-image.js";
import { createSession } from "../../src/runtime/index.js";
import { numel, BYTES_PER_ELEMENT, type Float32Tensor, type Tensor } from "../../src/tensor/tensor.js";
import { compare, expectClose, goldenJson, goldenPath, goldenTensor, loadGolden } from "../helpers/golden.js";
import { goldenModelDir } from "../helpers/model-fixtures.js";
import { symmetricCases, type PipelineCase } from "../helpers/pipeline-cases.js";
import { runCli, type CliCommand } from "../helpers/cli.js";

const out = mkdtempSync(join(tmpdir(), "vellum-sd2-"));
const SD2_FILE = goldenPath("diffusion", "sd2", "single_file", "tiny_sd2.safetensors");
/** README §3/§7 image tolerance. */
const IMAGE_ATOL = 2e-3;

interface RawCase {
  name: string;
  file: string;
  scheduler: string;
  scheduler_config: Record<string, unknown>;
  prompt: string;
  negative_prompt: string | null;
  guidance_scale: number;
  guidance_rescale?: number;
  clip_skip: number | null;
  num_inference_steps: number;
  height: number;
  width: number;
  prediction_type: string;
}

interface Sd2Index {
  cases: RawCase[];
  sensitivity: Record<string, { case: string; max_abs_diff_image_np: number }>;
}

const index = goldenJson<Sd2Index>("diffusion", "sd2", "pipelines", "index.json");
const symmetric = symmetricCases("sd2/pipelines_symmetric");

function rawCase(name: string): RawCase {
  const c = index.cases.find((x) => x.name === name);
  if (c === undefined) throw new Error(`sd2/pipelines/index.json has no case ${name}`);
  return c;
}

function symCase(name: string): PipelineCase {
  const c = symmetric.find((x) => x.name === name);
  if (c === undefined) throw new Error(`sd2/pipelines_symmetric has no case ${name}`);
  return c;
}

const cli = async (command: CliCommand, args: string[], expectCode = 0): Promise<string[]> => (await runCli(command, args, expectCode)).stdout;

/** `vellum generate` arguments of a golden call: stored latents, plain-text prompts, the case's own parameters. */
function callArgs(model: string, c: RawCase, rule: "symmetric" | "diffusers", scheduler?: string): string[] {
  const latents = join(out, `${c.name}.latents.safetensors`);
  writeSafetensors(latents, { latents: goldenTensor(["diffusion", c.file], "initial_latents") });
  return [
    "--model", model, "--prompt", c.prompt, ...(c.negative_prompt !== null ? ["--negative-prompt", c.negative_prompt] : []),
    "--literal", ...(scheduler !== undefined ? ["--scheduler", scheduler] : []),
    "--steps", String(c.num_inference_steps), "--cfg", String(c.guidance_scale),
    ...(c.guidance_rescale !== undefined ? ["--guidance-rescale", String(c.guidance_rescale)] : []),
    "--clip-skip", String(c.clip_skip ?? 0), "--clip-skip-rule", rule,
    "--width", String(c.width), "--height", String(c.height), "--latents", latents,
  ];
}

function rawOf(c: PipelineCase, scheduler: string): RawCase {
  const r = c.request;
  return {
    name: c.name, file: c.file, scheduler, scheduler_config: c.schedulerConfig, prompt: r.prompt,
    negative_prompt: r.negativePrompt ?? null, guidance_scale: r.guidanceScale,
    ...(r.guidanceRescale !== undefined && { guidance_rescale: r.guidanceRescale }),
    clip_skip: r.clipSkip ?? null, num_inference_steps: r.steps, height: r.height, width: r.width, prediction_type: "v_prediction",
  };
}

async function generateImage(args: string[], name: string): Promise<Float32Tensor> {
  const path = join(out, `${name}.out.safetensors`);
  await cli(generate, [...args, "--out-tensor", path]);
  return readSafetensors(path).get("image") as Float32Tensor;
}

function toUint8(image: Float32Tensor): Uint8Array {
  return Uint8Array.from(image.data, (x) => Math.round(Math.min(1, Math.max(0, x)) * 255));
}

function expectImage(ours: Float32Tensor, file: string, label: string): void {
  const golden = loadGolden("diffusion", file);
  expectClose(ours, golden.get("image_np")!, { atol: IMAGE_ATOL, label: `${label} image_np` });
  expectClose(toUint8(ours), golden.get("image_uint8")!.data as Uint8Array, { atol: 1, label: `${label} image_uint8` });
}

describe("SD2 folder through vellum generate", () => {
  it("zero-SNR + trailing Euler with --guidance-rescale 0.7", async () => {
    const c = index.cases.find((x) => x.guidance_rescale !== undefined && x.scheduler_config["rescale_betas_zero_snr"] === true);
    expect(c, "the index has the zero-SNR case").toBeDefined();
    const dir = goldenModelDir("sd2", c!.scheduler_config);
    const image = await generateImage(callArgs(dir, c!, "symmetric"), c!.name);
    expectImage(image, c!.file, c!.name);
    // guidance_rescale is visible at this size (index: ~2 uint8 levels), so dropping the flag must fail the tolerance.
    const plain = await generateImage(callArgs(dir, { ...c!, guidance_rescale: 0 }, "symmetric"), `${c!.name}-gr0`);
    expect(compare(plain, goldenTensor(["diffusion", c!.file], "image_np")).maxAbs).toBeGreaterThan(IMAGE_ATOL);
  });

  it.each(["sd2_dpmpp_2m_karras_p1_g5.0_cs1_sym", "sd2_dpmpp_2m_karras_p0_g5.0_cs2_sym"])("DPM++ 2M Karras %s (symmetric rule)", async (name) => {
    const s = symCase(name);
    const dir = goldenModelDir("sd2", s.schedulerConfig);
    const image = await generateImage(callArgs(dir, rawOf(s, "dpmpp_2m_karras"), "symmetric"), name);
    expectImage(image, s.file, name);
  });

  it("DPM++ 2M Karras sd2_dpmpp_2m_karras_p1_g5.0_cs2 (diffusers' rule)", async () => {
    const c = rawCase("sd2_dpmpp_2m_karras_p1_g5.0_cs2");
    const image = await generateImage(callArgs(goldenModelDir("sd2", c.scheduler_config), c, "diffusers"), c.name);
    expectImage(image, c.file, c.name);
  });
});

describe("tiny_sd2.safetensors gives the folder's images", () => {
  // The index's round trip reproduced these two with diffusers' from_single_file; both are asymmetric cases.
  it.each(["sd2_euler_p1_g5.0_cs1", "sd2_dpmpp_2m_karras_p0_g5.0_cs2", "sd2_euler_p0_g1.0_csNone"])("%s (diffusers' rule)", async (name) => {
    const c = rawCase(name);
    const image = await generateImage(callArgs(SD2_FILE, c, "diffusers", c.scheduler), `file-${name}`);
    expectImage(image, c.file, `single file ${name}`);
  });

  const own = symmetric.filter((x) => x.name.endsWith("_sym"));
  it("has the SD2 symmetric cases", () => expect(own.length).toBeGreaterThan(1));
  it.each(own.map((x) => [x.name, x] as const))("%s (symmetric rule)", async (_n, s) => {
    const scheduler = /^sd2_(.+?)_p\d/.exec(s.name)![1]!;
    const image = await generateImage(callArgs(SD2_FILE, rawOf(s, scheduler), "symmetric", scheduler), `file-${s.name}`);
    expectImage(image, s.file, `single file ${s.name}`);
  });

  it("the round-trip entry of the index names the file we load", () => {
    const ix = goldenJson<{ files: { sd2: { file: string } } }>("diffusion", "sd2", "single_file", "index.json");
    expect(goldenPath("diffusion", ix.files.sd2.file)).toBe(SD2_FILE);
  });
});

describe("marker keys end to end", () => {
  it("tiny_sd2 + v_pred/ztsnr markers, no yaml: the zero-SNR trailing case from the markers alone", async () => {
    const c = index.cases.find((x) => x.guidance_rescale !== undefined && x.scheduler_config["rescale_betas_zero_snr"] === true)!;
    const d = mkdtempSync(join(tmpdir(), "vellum-sd2-markers-"));
    const path = join(d, "marked.safetensors");
    const one: Tensor = { dtype: "float32", shape: [], data: new Float32Array([1]) };
    writeSafetensors(path, [...readSafetensors(SD2_FILE), ["v_pred", one], ["ztsnr", one]]);
    // the config.json sidecar carries the tiny head counts shapes cannot tell; it says nothing about prediction
    copyFileSync(SD2_FILE.replace(/\.safetensors$/, ".config.json"), join(d, "marked.config.json"));
    const loaded = loadModel(path);
    try {
      expect([loaded.info?.predictionType, loaded.info?.predictionSource, loaded.info?.zeroTerminalSnr]).toEqual(["v_prediction", "marker-key", true]);
    } finally {
      closeModel(loaded.model);
    }
    const image = await generateImage(callArgs(path, c, "symmetric", "euler"), "markers-zsnr");
    expectImage(image, c.file, `markers ${c.name}`);
  });
});

describe("tiny_sd2.safetensors components", () => {
  const models: PipelineModel[] = [];
  const files: SafetensorsFile[] = [];
  afterAll(() => {
    models.forEach(closeModel);
    files.forEach((f) => f.close());
  });
  const io = ["diffusion", "sd2", "models", "text_encoder_io.safetensors"];
  // Text README: another runtime is compared with |a − b| ≤ 1e-4 · max(1, max|golden|).
  const TEXT_TOL = { scaled: 1e-4 };

  it("the original 5-layer OpenCLIP tower reproduces original_hidden_states (all 6)", async () => {
    const file = SafetensorsFile.open(SD2_FILE);
    files.push(file);
    const prefix = "cond_stage_model.model.";
    const width = file.info(`${prefix}token_embedding.weight`).shape[1]!;
    const refs = new Map<string, WeightRef>();
    for (const s of openClipSources(file.names(), prefix, width, { withProjection: false })) {
      const info = file.info(s.key);
      if (s.rows === undefined) refs.set(s.name, fileWeight(file, s.key, s.name));
      else {
        const rowBytes = numel(info.shape.slice(1)) * BYTES_PER_ELEMENT[info.dtype];
        refs.set(s.name, fileWeight(file, s.key, s.name, [s.rows.count, ...info.shape.slice(1)], { start: s.rows.start * rowBytes, length: s.rows.count * rowBytes }));
      }
    }
    const meta = goldenJson<{ text_encoder_config: Record<string, unknown>; original_num_layers: number }>("diffusion", "sd2", "models", "text_encoder_io.json");
    const config = parseClipTextConfig({ ...meta.text_encoder_config, num_hidden_layers: meta.original_num_layers });
    const session = await createSession(buildClipTextGraph(config, new WeightMap(refs, "tiny_sd2 original tower")));
    try {
      const r = await session.run({ input_ids: goldenTensor(io, "input_ids") });
      expectClose(r[CLIP_OUTPUTS.hiddenStates]!, goldenTensor(io, "original_hidden_states"), { ...TEXT_TOL, label: "original_hidden_states" });
    } finally {
      await session.release();
    }
  });

  it("the loaded 4-layer encoder (last resblock dropped) reproduces last_hidden_state", async () => {
    const { model } = loadModel(SD2_FILE);
    models.push(model);
    const session = await createSession(buildClipTextGraph(parseClipTextConfig(model.textEncoder!.config), model.textEncoder!.weights));
    try {
      const r = await session.run({ input_ids: goldenTensor(io, "input_ids") });
      expectClose(r[CLIP_OUTPUTS.lastHiddenState]!, goldenTensor(io, "last_hidden_state"), { ...TEXT_TOL, label: "last_hidden_state" });
    } finally {
      await session.release();
    }
  });

  it("its UNet reproduces unet_io noise_pred (v)", async () => {
    const { model } = loadModel(SD2_FILE);
    models.push(model);
    const session = await createSession(buildUNetGraph(unetConfigFromJson(model.unet!.config), model.unet!.weights));
    const u = ["diffusion", "sd2", "models", "unet_io.safetensors"];
    try {
      const r = await session.run({
        [UNET_INPUTS.sample]: goldenTensor(u, "sample"),
        [UNET_INPUTS.timestep]: goldenTensor(u, "timesteps"),
        [UNET_INPUTS.encoderHiddenStates]: goldenTensor(u, "encoder_hidden_states"),
      });
      // README §2: UNet noise_pred abs 1e-4 on another runtime (as unet.test.ts)
      expectClose(r[UNET_OUTPUT]!, goldenTensor(u, "noise_pred"), { atol: 1e-4, label: "sd2 single-file noise_pred" });
    } finally {
      await session.release();
    }
  });
});

describe("v-prediction matters", () => {
  const s = index.sensitivity["epsilon_instead_of_v_prediction"]!;
  const c = rawCase(s.case);

  async function run(opts: SingleFileOptions): Promise<{ image: Float32Tensor; predictionType: unknown }> {
    const { model } = loadModel(SD2_FILE, opts);
    const pipeline = await openPipeline(model);
    try {
      const r = await textToImage(pipeline, {
        prompt: c.prompt, ...(c.negative_prompt !== null && { negativePrompt: c.negative_prompt }), literal: true,
        width: c.width, height: c.height, steps: c.num_inference_steps, guidanceScale: c.guidance_scale, clipSkip: c.clip_skip ?? 0,
        scheduler: c.scheduler, seed: 0n, latents: goldenTensor(["diffusion", c.file], "initial_latents") as Float32Tensor,
      });
      return { image: r.image.np, predictionType: model.schedulerConfig?.["prediction_type"] };
    } finally {
      await pipeline.release();
      closeModel(model);
    }
  }

  it(`${s.case} as epsilon differs by far more than tolerance; as v_prediction it matches`, async () => {
    const eps = await run({ predictionType: "epsilon" });
    expect(eps.predictionType).toBe("epsilon");
    const v = await run({});
    expect(v.predictionType).toBe("v_prediction");
    const golden = goldenTensor(["diffusion", c.file], "image_np");
    expectClose(v.image, golden, { atol: IMAGE_ATOL, label: `${c.name} v_prediction` });
    const d = compare(eps.image, golden).maxAbs;
    expect(d).toBeGreaterThan(100 * IMAGE_ATOL);
    // diffusers measured s.max_abs_diff_image_np for the same swap; ours is of that order (not a tolerance, a sanity bound)
    expect(d).toBeGreaterThan(s.max_abs_diff_image_np / 2);
  });
});

describe("prediction-type detection: every source", () => {
  const dir = mkdtempSync(join(tmpdir(), "vellum-pred-"));
  const base = readSafetensors(goldenPath("diffusion", "single_file", "tiny_sd1.safetensors"));
  const scalar: Tensor = { dtype: "float32", shape: [], data: new Float32Array([1]) };

  /** A tiny SD1 checkpoint (the golden's tensors) in its own folder, with optional extras, metadata and sidecars. */
  function variant(name: string, opts: { extra?: Record<string, Tensor>; metadata?: Record<string, string>; yaml?: string; config?: unknown } = {}): string {
    const d = join(dir, name);
    mkdirSync(d);
    const path = join(d, "model.safetensors");
    writeSafetensors(path, [...base, ...Object.entries(opts.extra ?? {})], opts.metadata);
    if (opts.yaml !== undefined) writeFileSync(join(d, "model.yaml"), opts.yaml);
    if (opts.config !== undefined) writeFileSync(join(d, "model.config.json"), JSON.stringify(opts.config));
    return path;
  }

  function info(path: string, opts: SingleFileOptions = {}) {
    const f = SafetensorsFile.open(path);
    try {
      return singleFileInfo(f, opts);
    } finally {
      f.close();
    }
  }

  const yamlV = "model:\n  params:\n    parameterization: \"v\"\n";
  const paths = {
    plain: variant("plain"),
    yaml: variant("yaml", { yaml: yamlV }),
    config: variant("config", { yaml: yamlV, config: { scheduler: { prediction_type: "epsilon" } } }),
    marker: variant("marker", { extra: { v_pred: scalar } }),
    ztsnr: variant("ztsnr", { extra: { v_pred: scalar, ztsnr: scalar } }),
    metadata: variant("metadata", { metadata: { "modelspec.prediction_type": "v" } }),
  };

  it("no hint → epsilon (default)", () => {
    const i = info(paths.plain);
    expect([i.predictionType, i.predictionSource, i.zeroTerminalSnr]).toEqual(["epsilon", "default", false]);
  });
  it("yaml parameterization v → v_prediction (sidecar-yaml)", () => {
    const i = info(paths.yaml);
    expect([i.predictionType, i.predictionSource]).toEqual(["v_prediction", "sidecar-yaml"]);
    expect(i.schedulerConfig?.["prediction_type"]).toBe("v_prediction");
  });
  it("config.json scheduler.prediction_type wins over the yaml (sidecar-config)", () => {
    const i = info(paths.config);
    expect([i.predictionType, i.predictionSource]).toEqual(["epsilon", "sidecar-config"]);
  });
  it("v_pred marker key → v_prediction (marker-key); ztsnr adds zero-terminal-SNR trailing betas", () => {
    const m = info(paths.marker);
    expect([m.predictionType, m.predictionSource, m.zeroTerminalSnr]).toEqual(["v_prediction", "marker-key", false]);
    const z = info(paths.ztsnr);
    expect([z.predictionType, z.predictionSource, z.zeroTerminalSnr]).toEqual(["v_prediction", "marker-key", true]);
    expect(z.schedulerConfig?.["rescale_betas_zero_snr"]).toBe(true);
    expect(z.schedulerConfig?.["timestep_spacing"]).toBe("trailing");
  });
  it("modelspec.prediction_type metadata → v_prediction (metadata)", () => {
    const i = info(paths.metadata);
    expect([i.predictionType, i.predictionSource]).toEqual(["v_prediction", "metadata"]);
  });
  it("a catalog entry's predictionType wins over everything, through FolderCatalog and loadModel", async () => {
    const models = join(dir, "catalog");
    mkdirSync(models);
    copyFileSync(paths.yaml, join(models, "model.safetensors"));
    copyFileSync(join(dir, "yaml", "model.yaml"), join(models, "model.yaml"));
    writeFileSync(join(models, "catalog.json"), JSON.stringify({ models: [{ air: "test:1@1", file: "model.safetensors", predictionType: "epsilon" }] }));
    const catalog = await FolderCatalog.open({ modelsDir: models, demo: false });
    const entry = catalog.resolve("test:1@1");
    expect(entry?.predictionType).toBe("epsilon");
    const loaded = loadModel(entry!.path, { ...(entry!.predictionType && { predictionType: entry!.predictionType }) });
    try {
      expect([loaded.info?.predictionType, loaded.info?.predictionSource]).toEqual(["epsilon", "catalog"]);
      expect(loaded.model.schedulerConfig?.["prediction_type"]).toBe("epsilon");
    } finally {
      closeModel(loaded.model);
    }
    // without the catalog's word, the yaml beside it says v
    expect(info(join(models, "model.safetensors")).predictionSource).toBe("sidecar-yaml");
  });
});

describe("vellum inspect prints the prediction type and its source", () => {
  it("tiny_sd2.safetensors: v_prediction from the yaml (text and --json)", async () => {
    const text = await cli(inspect, [SD2_FILE]);
    expect(text).toContain("predictionType: v_prediction");
    expect(text).toContain("predictionSource: sidecar-yaml");
    const json = JSON.parse((await cli(inspect, [SD2_FILE, "--json"])).join("\n")) as Record<string, unknown>;
    expect([json["predictionType"], json["predictionSource"]]).toEqual(["v_prediction", "sidecar-yaml"]);
  });
  it("tiny_sd1.safetensors: its yaml has no parameterization → epsilon by default", async () => {
    const text = await cli(inspect, [goldenPath("diffusion", "single_file", "tiny_sd1.safetensors")]);
    expect(text).toContain("predictionType: epsilon");
    expect(text).toContain("predictionSource: default");
  });
});
