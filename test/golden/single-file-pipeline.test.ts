// Issue 5 "done when": the original-layout single files reproduce the diffusers pipeline goldens through
// `vellum generate --model FILE` (golden/diffusion/README.md §3, §4, §6). tiny_sd1 (+ its yaml / config.json
// sidecars) replays the asymmetric case its index names (diffusers' clip-skip rule) and the symmetric twin (our
// rule); tiny_sdxl_fp16 (weights upcast from float16) replays tiny_sdxl_fp16_expected and its symmetric twin.
// `vellum encode --model FILE` gives the stored prompt embeddings.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { civitaiToClipSkip } from "../../src/catalog/index.js";
import { readSafetensors, writeSafetensors } from "../../src/checkpoint/safetensors.js";
import { encode } from "../../src/cli/encode.js";
import { generate } from "../../src/cli/generate.js";
import type { Float32Tensor } from "../../src/tensor/tensor.js";
import { compare, expectClose, goldenJson, goldenPath, goldenTensor, loadGolden } from "../helpers/golden.js";
import { caseTensor, symmetricCases, type PipelineCase } from "../helpers/pipeline-cases.js";
import { runCli, type CliCommand } from "../helpers/cli.js";

const out = mkdtempSync(join(tmpdir(), "vellum-single-file-pipeline-"));

interface RawCase {
  name: string;
  file: string;
  scheduler: string;
  prompt: string;
  negative_prompt: string | null;
  guidance_scale: number;
  clip_skip: number | null;
  num_inference_steps: number;
  height: number;
  width: number;
  original_size?: [number, number];
  crops_coords_top_left?: [number, number];
  target_size?: [number, number];
}

interface SingleFileIndex {
  files: {
    sd1: { file: string; from_single_file: { reproduced_case: string } };
    sdxl: { file: string; expected_output: { file: string; case: string; max_abs_diff_vs_fp32_case: number } };
  };
}

const index = goldenJson<SingleFileIndex>("diffusion", "single_file", "index.json");
const asymmetric = goldenJson<{ cases: RawCase[] }>("diffusion", "pipelines", "index.json").cases;
const symmetric = symmetricCases("pipelines_symmetric");

async function cli(command: CliCommand, args: string[], stderr?: string[]): Promise<string[]> {
  const out = await runCli(command, args);
  stderr?.push(...out.stderr);
  return out.stdout;
}

/** The `vellum generate` arguments of a golden call (stored latents, plain-text prompts, the case's sampler). */
function callArgs(model: string, c: RawCase, latentsFrom: string, rule: "symmetric" | "diffusers", name: string): string[] {
  const latents = join(out, `${name}.latents.safetensors`);
  writeSafetensors(latents, { latents: goldenTensor(["diffusion", latentsFrom], "initial_latents") });
  return [
    "--model", model, "--prompt", c.prompt, ...(c.negative_prompt !== null ? ["--negative-prompt", c.negative_prompt] : []),
    "--literal", "--scheduler", c.scheduler, "--steps", String(c.num_inference_steps), "--cfg", String(c.guidance_scale),
    "--clip-skip", String(c.clip_skip ?? 0), "--clip-skip-rule", rule, "--width", String(c.width), "--height", String(c.height),
    ...(c.original_size ? ["--original-size", c.original_size.join(",")] : []),
    ...(c.crops_coords_top_left ? ["--crops-top-left", c.crops_coords_top_left.join(",")] : []),
    ...(c.target_size ? ["--target-size", c.target_size.join(",")] : []),
    "--latents", latents,
  ];
}

async function generateImage(args: string[], name: string, stderr?: string[]): Promise<Float32Tensor> {
  const path = join(out, `${name}.safetensors`);
  await cli(generate, [...args, "--out-tensor", path], stderr);
  return readSafetensors(path).get("image") as Float32Tensor;
}

/** diffusers' numpy_to_pil rule, round(x · 255), applied to our float image. */
function toUint8(image: Float32Tensor): Uint8Array {
  return Uint8Array.from(image.data, (x) => Math.round(Math.min(1, Math.max(0, x)) * 255));
}

/** README §3 tolerances: image_np abs 2e-3, image_uint8 ±1 level. `extra` widens image_np only. */
function expectImage(ours: Float32Tensor, file: string, label: string, extra = 0): void {
  const golden = loadGolden("diffusion", file);
  expectClose(ours, golden.get("image_np")!, { atol: 2e-3 + extra, label: `${label} image_np` });
  if (extra === 0) expectClose(toUint8(ours), golden.get("image_uint8")!.data as Uint8Array, { atol: 1, label: `${label} image_uint8` });
}

function rawCase(name: string): RawCase {
  const c = asymmetric.find((x) => x.name === name);
  if (c === undefined) throw new Error(`pipelines/index.json has no case ${name}`);
  return c;
}

function symTwin(name: string): PipelineCase {
  const c = symmetric.find((x) => x.name === `${name}_sym`);
  if (c === undefined) throw new Error(`pipelines_symmetric has no ${name}_sym`);
  return c;
}

function rawOf(c: PipelineCase, scheduler: string): RawCase {
  const r = c.request;
  return {
    name: c.name, file: c.file, scheduler, prompt: r.prompt, negative_prompt: r.negativePrompt ?? null,
    guidance_scale: r.guidanceScale, clip_skip: r.clipSkip ?? null, num_inference_steps: r.steps, height: r.height, width: r.width,
    ...(r.originalSize && { original_size: [...r.originalSize] as [number, number] }),
    ...(r.cropsTopLeft && { crops_coords_top_left: [...r.cropsTopLeft] as [number, number] }),
    ...(r.targetSize && { target_size: [...r.targetSize] as [number, number] }),
  };
}

describe("tiny_sd1.safetensors through vellum generate", () => {
  const file = goldenPath("diffusion", index.files.sd1.file);
  const name = index.files.sd1.from_single_file.reproduced_case;

  it(`reproduces ${name} (diffusers' clip-skip rule)`, async () => {
    const c = rawCase(name);
    const image = await generateImage(callArgs(file, c, c.file, "diffusers", name), name);
    expectImage(image, c.file, `single-file ${name}`);
  });

  it(`reproduces the symmetric twin ${name}_sym`, async () => {
    const twin = symTwin(name);
    const c = rawOf(twin, rawCase(name).scheduler);
    const image = await generateImage(callArgs(file, c, twin.file, "symmetric", twin.name), twin.name);
    expectImage(image, twin.file, `single-file ${twin.name}`);
  });

  // Every SD1 case of pipelines_symmetric with its own tensors (CFG on, clip skip ≥ 1), sampler from the case name.
  const sd1Sym = symmetric.filter((x) => x.family === "sd1" && x.name.endsWith("_sym"));
  it("has the SD1 symmetric cases", () => expect(sd1Sym.length).toBeGreaterThan(1));
  it.each(sd1Sym.map((x) => [x.name, x] as const))("symmetric %s", async (_n, twin) => {
    const scheduler = /^sd1_(.+?)_p\d/.exec(twin.name)![1]!;
    const image = await generateImage(callArgs(file, rawOf(twin, scheduler), twin.file, "symmetric", `all-${twin.name}`), `all-${twin.name}`);
    expectImage(image, twin.file, `single-file ${twin.name}`);
  });

  it("vellum encode --model FILE gives the stored prompt embeddings", async () => {
    const c = rawCase(name);
    const path = join(out, "encode-sd1.safetensors");
    await cli(encode, ["--model", file, "--prompt", c.prompt, "--literal", "--clip-skip", String(c.clip_skip ?? 0), "--out", path]);
    const t = readSafetensors(path);
    // Text README tolerance for another runtime: 1e-4 relative to the largest value (see pipelines.test.ts).
    expectClose(t.get("prompt_embeds")!, caseTensor(symTwin(name), "prompt_embeds"), { scaled: 1e-4, label: "encode prompt_embeds" });
    expectClose(t.get("negative_prompt_embeds")!, caseTensor(symTwin(name), "negative_prompt_embeds"), { scaled: 1e-4, label: "encode negative_prompt_embeds (symmetric)" });
  });
});

describe("tiny_sdxl_fp16.safetensors through vellum generate (fp16 weights upcast)", () => {
  const sdxl = index.files.sdxl;
  const file = goldenPath("diffusion", sdxl.file);
  const name = sdxl.expected_output.case;

  it(`reproduces ${sdxl.expected_output.file} (${name} from the fp16 weights, diffusers' rule)`, async () => {
    const c = rawCase(name);
    const image = await generateImage(callArgs(file, c, c.file, "diffusers", `fp16-${name}`), `fp16-${name}`);
    expectImage(image, sdxl.expected_output.file, `fp16 ${name}`);
  });

  it(`the symmetric twin ${name}_sym is within the fp16 rounding distance the index states`, async () => {
    const twin = symTwin(name);
    const c = rawOf(twin, rawCase(name).scheduler);
    const image = await generateImage(callArgs(file, c, twin.file, "symmetric", `fp16-${twin.name}`), `fp16-${twin.name}`);
    // The golden twin used fp32 weights; fp16 weights moved the asymmetric image by max_abs_diff_vs_fp32_case.
    expectImage(image, twin.file, `fp16 ${twin.name}`, sdxl.expected_output.max_abs_diff_vs_fp32_case);
  });
});

describe("a catalog beside the single file", () => {
  const sd1 = goldenPath("diffusion", index.files.sd1.file);
  const c = rawCase(index.files.sd1.from_single_file.reproduced_case);
  const civitai = 2; // a Civitai "Clip skip: 2" row, as users copy it
  const models = join(out, "models");
  mkdirSync(models);
  for (const ext of [".safetensors", ".yaml", ".config.json"]) symlinkSync(sd1.replace(/\.safetensors$/, ext), join(models, `tiny${ext}`));
  const catalog = (extra: Record<string, unknown>) =>
    writeFileSync(join(models, "catalog.json"), JSON.stringify({ models: [{ air: "test:tiny@1", file: "tiny.safetensors", ...extra }] }));
  const withoutClipSkip = (args: string[]) => args.filter((a, i) => a !== "--clip-skip" && args[i - 1] !== "--clip-skip");

  it("gives the default clipSkip when --clip-skip is omitted", async () => {
    catalog({ clipSkip: civitai });
    const ours = civitaiToClipSkip(civitai, "sd1");
    const stderr: string[] = [];
    const implicit = await generateImage(withoutClipSkip(callArgs(join(models, "tiny.safetensors"), c, c.file, "symmetric", "cat")), "cat-implicit", stderr);
    expect(stderr.join("\n")).toContain(`clipSkip ${ours}: the model's recommended value (civitai)`);
    const explicit = await generateImage([...callArgs(join(models, "tiny.safetensors"), c, c.file, "symmetric", "cat"), "--clip-skip", String(ours)], "cat-explicit");
    const zero = await generateImage([...callArgs(join(models, "tiny.safetensors"), c, c.file, "symmetric", "cat"), "--clip-skip", "0"], "cat-zero");
    expect(compare(implicit, explicit).maxAbs).toBe(0);
    expect(compare(implicit, zero).maxAbs).toBeGreaterThan(10 * 2e-3);
  });

  it("its predictionType overrides the file's sidecars in vellum generate", async () => {
    catalog({ predictionType: "v_prediction" });
    const v = await generateImage(callArgs(join(models, "tiny.safetensors"), c, c.file, "diffusers", "cat-v"), "cat-v");
    catalog({});
    const eps = await generateImage(callArgs(join(models, "tiny.safetensors"), c, c.file, "diffusers", "cat-eps"), "cat-eps");
    expectImage(eps, c.file, "catalog without predictionType");
    expect(compare(v, eps).maxAbs).toBeGreaterThan(10 * 2e-3);
  });
});
