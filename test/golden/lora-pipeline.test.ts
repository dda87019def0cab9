// Issue 5 "done when", LoRA half (golden/diffusion/README.md §5): `vellum generate --lora tiny_sd1_lora_kohya:0.8` on
// the golden SD1 folder reproduces every lora_sd1_* case (image_np, image_uint8), the merged text encoder gives its
// prompt_embeds / negative_prompt_embeds, and applying a LoRA leaves the base model untouched for the next request.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadDiffusersFolder, closeModel, type PipelineModel } from "../../src/checkpoint/model.js";
import { readSafetensors, writeSafetensors } from "../../src/checkpoint/safetensors.js";
import { encodePrompts } from "../../src/conditioning/index.js";
import { mergeLoras, openLora } from "../../src/lora/index.js";
import type { Float32Tensor } from "../../src/tensor/tensor.js";
import { compare, expectClose, goldenJson, goldenPath, goldenTensor, loadGolden } from "../helpers/golden.js";
import { goldenModelDir } from "../helpers/model-fixtures.js";
import { runGenerate } from "../helpers/cli.js";

interface LoraCase {
  name: string;
  file: string;
  prompt: string;
  negative_prompt: string | null;
  guidance_scale: number;
  clip_skip: number | null;
  num_inference_steps: number;
  height: number;
  width: number;
  lora_scale: number;
  same_call_without_lora: string;
  max_abs_diff_vs_without_lora: number;
}

interface LoraIndex {
  lora_file: string;
  scale: number;
  cases: LoraCase[];
}

interface PipelinesIndex {
  cases: { file: string; scheduler_config: Record<string, unknown> }[];
}

const index = goldenJson<LoraIndex>("diffusion", "lora", "index.json");
const pipelines = goldenJson<PipelinesIndex>("diffusion", "pipelines", "index.json");
const loraPath = goldenPath("diffusion", index.lora_file);
const out = mkdtempSync(join(tmpdir(), "vellum-lora-pipeline-"));

const run = runGenerate;

/** The no-LoRA counterpart's scheduler config: the LoRA cases are the same calls with fused weights. */
function schedulerConfigOf(c: LoraCase): Record<string, unknown> {
  const twin = pipelines.cases.find((p) => p.file === c.same_call_without_lora);
  if (twin === undefined) throw new Error(`${c.name}: ${c.same_call_without_lora} not in pipelines/index.json`);
  return twin.scheduler_config;
}

function caseArgs(dir: string, c: LoraCase): string[] {
  const latents = join(out, `${c.name}.latents.safetensors`);
  writeSafetensors(latents, { latents: goldenTensor(["diffusion", "pipelines", "initial_latents.safetensors"], "latents") });
  return [
    "--model", dir, "--prompt", c.prompt, ...(c.negative_prompt !== null ? ["--negative-prompt", c.negative_prompt] : []),
    "--literal", "--steps", String(c.num_inference_steps), "--cfg", String(c.guidance_scale),
    // the LoRA goldens were made by diffusers' pipeline: clip skip on the positive prompt only
    "--clip-skip", String(c.clip_skip ?? 0), "--clip-skip-rule", "diffusers",
    "--width", String(c.width), "--height", String(c.height), "--latents", latents,
  ];
}

function toUint8(image: Float32Tensor): Uint8Array {
  return Uint8Array.from(image.data, (x) => Math.round(Math.min(1, Math.max(0, x)) * 255));
}

describe("kohya LoRA through vellum generate on the golden SD1 folder", () => {
  it("has the four cases", () => expect(index.cases.length).toBe(4));

  it.each(index.cases.map((c) => [c.name, c] as const))("%s: image_np and image_uint8", async (_n, c) => {
    const dir = goldenModelDir("sd1", schedulerConfigOf(c));
    const path = join(out, `${c.name}.safetensors`);
    await run([...caseArgs(dir, c), "--lora", `${loraPath}:${c.lora_scale}`, "--out-tensor", path]);
    const image = readSafetensors(path).get("image") as Float32Tensor;
    const golden = loadGolden("diffusion", c.file);
    // README §3 tolerances (image_np abs 2e-3, uint8 ±1); the LoRA moves the image by max_abs_diff_vs_without_lora.
    expectClose(image, golden.get("image_np")!, { atol: 2e-3, label: `${c.name} image_np` });
    expectClose(toUint8(image), golden.get("image_uint8")!.data as Uint8Array, { atol: 1, label: `${c.name} image_uint8` });
    expect(compare(image, goldenTensor(["diffusion", c.same_call_without_lora], "image_np")).maxAbs).toBeGreaterThan(10 * 2e-3);
  });

  describe("prompt embeddings of the merged text encoder", () => {
    const models: PipelineModel[] = [];
    const lora = openLora(loraPath);
    afterAll(() => {
      models.forEach(closeModel);
      lora.file.close();
    });
    it.each(index.cases.map((c) => [c.name, c] as const))("%s", async (_n, c) => {
      const base = loadDiffusersFolder(goldenModelDir("sd1", undefined, ["text_encoder", "tokenizer"]));
      models.push(base);
      const { model } = mergeLoras(base, [{ lora, weight: c.lora_scale }]);
      const r = await encodePrompts(model, {
        prompt: c.prompt, ...(c.negative_prompt !== null && { negativePrompt: c.negative_prompt }),
        literal: true, clipSkip: c.clip_skip ?? 0, clipSkipRule: "diffusers",
      });
      // Text README tolerance for another runtime: 1e-4 relative to the largest value (as pipelines.test.ts).
      expectClose(r.promptEmbeds, goldenTensor(["diffusion", c.file], "prompt_embeds"), { scaled: 1e-4, label: `${c.name} prompt_embeds` });
      expectClose(r.negativePromptEmbeds, goldenTensor(["diffusion", c.file], "negative_prompt_embeds"), { scaled: 1e-4, label: `${c.name} negative_prompt_embeds` });
    });
  });

  it("loading and unloading a LoRA never changes the base model: identical bytes before and after", async () => {
    const c = index.cases[0]!;
    const dir = goldenModelDir("sd1", schedulerConfigOf(c));
    const render = async (name: string, extra: string[]) => {
      const png = join(out, `${name}.png`);
      const tensor = join(out, `${name}.safetensors`);
      await run([...caseArgs(dir, c), "--seed", "5", ...extra, "--out", png, "--out-tensor", tensor]);
      return { png: readFileSync(png), image: readSafetensors(tensor).get("image") as Float32Tensor };
    };
    const before = await render("before", []);
    const withLora = await render("with", ["--lora", `${loraPath}:${c.lora_scale}`]);
    const after = await render("after", []);
    expect(compare(withLora.image, before.image).maxAbs, "the LoRA changes the image").toBeGreaterThan(10 * 2e-3);
    expect(Buffer.compare(after.png, before.png), "PNG bytes after the LoRA request equal those before").toBe(0);
    expect(Buffer.from(after.image.data.buffer).equals(Buffer.from(before.image.data.buffer)), "float image bit-identical").toBe(true);
  });
});
