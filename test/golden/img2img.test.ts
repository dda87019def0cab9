// img2img and inpainting against diffusers 0.27.2 (golden README section 8): every img2img case (csNone and the
// cs2_sym twins under our symmetric clipSkip; the asymmetric cs2 files through clipSkipRule "diffusers") and all
// four inpainting cases, reproduced from the case's seed alone with the "cpu" generator; then the same runs with the
// stored draws replayed (NaN for the draws diffusers makes but never uses), which pins the order of the draws.
import { mkdtempSync, readFileSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readSafetensors } from "../../src/checkpoint/safetensors.js";
import { closeModel, loadDiffusersFolder } from "../../src/checkpoint/model.js";
import type { ImageToImageResult } from "../../src/pipeline/image-request.js";
import { imageToImage } from "../../src/pipeline/image-to-image.js";
import { inpaint } from "../../src/pipeline/inpaint.js";
import { encodeImage, parseParameters, readPngTextChunks } from "../../src/image/index.js";
import { openPipeline } from "../../src/pipeline/pipeline.js";
import { SAMPLER_IDS, type Noise } from "../../src/schedulers/index.js";
import { float32, toFloat32, type Float32Tensor } from "../../src/tensor/tensor.js";
import { expectClose, goldenJson, goldenPath, loadGolden } from "../helpers/golden.js";
import { goldenModelDir } from "../helpers/model-fixtures.js";
import { runGenerate } from "../helpers/cli.js";

interface RngDraw {
  index: number;
  shape: number[];
  used: boolean;
  stored_as?: string;
}

interface Img2ImgCase {
  name: string;
  file: string;
  kind: string;
  prompt: string;
  negative_prompt: string | null;
  guidance_scale: number;
  clip_skip: number | null;
  symmetric_clip_skip?: boolean;
  strength: number;
  num_inference_steps: number;
  height: number;
  width: number;
  init_image: string;
  mask_image?: string;
  unet_in_channels?: number;
  seed: number;
  scheduler_config: Record<string, unknown>;
  begin_index: number;
  rng_draws: RngDraw[];
}

const dir = "img2img";
const all = goldenJson<{ cases: Img2ImgCase[] }>("diffusion", dir, "index.json").cases;
// Our clipSkip applies to both prompts (csNone, _sym twins); plain cs2 is diffusers' positive-only rule.
const img2imgCases = all.filter((c) => c.name.startsWith("img2img_"));
const asymmetric = (c: Img2ImgCase) => c.clip_skip !== null && c.symmetric_clip_skip !== true;
const inpaintCases = all.filter((c) => c.name.startsWith("inpaint_"));

function tensorOf(c: Img2ImgCase, key: string): Float32Tensor {
  const t = loadGolden("diffusion", c.file).get(key);
  if (t === undefined) throw new Error(`${c.file} has no ${key}`);
  return toFloat32(t);
}

function modelDir(c: Img2ImgCase): string {
  if (c.unet_in_channels !== 9) return goldenModelDir("sd1", c.scheduler_config);
  const folder = goldenModelDir("sd1", c.scheduler_config, ["vae", "text_encoder", "tokenizer"]);
  symlinkSync(goldenPath("diffusion", dir, "models", "unet_sd1_inpaint"), join(folder, "unet"), "dir");
  return folder;
}

/** The stored draws in order; NaN tensors for the draws diffusers makes but never uses. */
function replayDraws(c: Img2ImgCase): Noise & { remaining(): number } {
  let next = 0;
  return {
    randn(shape) {
      const draw = c.rng_draws[next++];
      if (draw === undefined) throw new Error(`${c.name}: draw ${next - 1} was not made by diffusers`);
      expect([...shape], `${c.name} draw ${draw.index} shape`).toEqual(draw.shape);
      if (!draw.used || draw.stored_as === undefined) return float32(shape, new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(NaN));
      return tensorOf(c, draw.stored_as);
    },
    remaining: () => c.rng_draws.length - next,
  };
}

async function runCase(c: Img2ImgCase, generator?: Noise): Promise<ImageToImageResult> {
  const model = loadDiffusersFolder(modelDir(c));
  const pipeline = await openPipeline(model);
  const req = {
    prompt: c.prompt,
    ...(c.negative_prompt !== null && { negativePrompt: c.negative_prompt }),
    literal: true,
    width: c.width,
    height: c.height,
    steps: c.num_inference_steps,
    guidanceScale: c.guidance_scale,
    clipSkip: c.clip_skip ?? 0,
    ...(asymmetric(c) && { clipSkipRule: "diffusers" as const }),
    seed: BigInt(c.seed),
    rng: "cpu" as const,
    strength: c.strength,
    seedImage: new Uint8Array(readFileSync(goldenPath("diffusion", c.init_image))),
  };
  const ctx = generator === undefined ? {} : { generator };
  try {
    if (c.mask_image === undefined) return await imageToImage(pipeline, req, ctx);
    return await inpaint(pipeline, { ...req, maskImage: new Uint8Array(readFileSync(goldenPath("diffusion", c.mask_image))) }, ctx);
  } finally {
    await pipeline.release();
    closeModel(model);
  }
}

function expectResult(c: Img2ImgCase, r: ImageToImageResult): void {
  const has = (key: string) => loadGolden("diffusion", c.file).has(key);
  expect(r.startIndex, `${c.name} begin index`).toBe(c.begin_index);
  expectClose(r.timesteps, tensorOf(c, "timesteps"), { atol: 0, label: `${c.name} timesteps` });
  expectClose(r.embeddings.promptEmbeds, tensorOf(c, "prompt_embeds"), { scaled: 1e-4, label: `${c.name} prompt_embeds` });
  expectClose(r.embeddings.negativePromptEmbeds, tensorOf(c, "negative_prompt_embeds"), { scaled: 1e-4, label: `${c.name} negative_prompt_embeds` });
  // VAE encoder outputs: abs 1e-4 (README); latents: 1e-4 relative to max |x|.
  const imageKey = has("init_latents") ? "init_latents" : "image_latents";
  if (has(imageKey)) expectClose(r.imageLatents!, tensorOf(c, imageKey), { atol: 1e-4, label: `${c.name} ${imageKey}` });
  else expect(r.imageLatents, `${c.name}: init image must not be encoded`).toBeUndefined();
  if (has("mask_latents")) expectClose(r.maskLatents!, tensorOf(c, "mask_latents"), { atol: 0, label: `${c.name} mask_latents` });
  if (c.unet_in_channels === 9) expectClose(r.maskedImageLatents!, tensorOf(c, "masked_image_latents"), { atol: 1e-4, label: `${c.name} masked_image_latents` });
  const startKey = has("noisy_latents") ? "noisy_latents" : "initial_latents";
  expectClose(r.startLatents, tensorOf(c, startKey), { scaled: 1e-4, label: `${c.name} ${startKey}` });
  expectClose(r.latents, tensorOf(c, "final_latents"), { scaled: 1e-4, label: `${c.name} final_latents` });
  expectClose(r.image.np, tensorOf(c, "image_np"), { atol: 2e-3, label: `${c.name} image_np` });
  expectClose(r.image.rgb, loadGolden("diffusion", c.file).get("image_uint8")!.data as Uint8Array, { atol: 1, label: `${c.name} image_uint8` });
}

describe("img2img / inpainting golden cases", () => {
  it("has the cases", () => {
    expect(img2imgCases).toHaveLength(18);
    expect(img2imgCases.filter(asymmetric)).toHaveLength(6);
    expect(inpaintCases).toHaveLength(4);
  });

  it.each([...img2imgCases, ...inpaintCases].map((c) => [c.name, c] as const))("%s from the seed alone", async (_n, c) => {
    expectResult(c, await runCase(c));
  });

  it.each([...img2imgCases, ...inpaintCases].map((c) => [c.name, c] as const))("%s with the stored draws replayed", async (_n, c) => {
    const draws = replayDraws(c);
    const r = await runCase(c, draws);
    expect(draws.remaining(), `${c.name}: draws diffusers made that we did not`).toBe(0);
    expectResult(c, r);
  });
});

describe("img2img / inpainting refusals on the golden models", () => {
  const base = {
    prompt: "a bowl of ripe oranges",
    literal: true,
    width: 64,
    height: 64,
    steps: 6,
    guidanceScale: 5,
    seed: 1n,
    rng: "cpu" as const,
    strength: 0.75,
    seedImage: new Uint8Array(readFileSync(goldenPath("diffusion", dir, "init_1.png"))),
  };
  const mask = new Uint8Array(readFileSync(goldenPath("diffusion", dir, "mask_0.png")));

  async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
    const e = await p.then(() => undefined, (err: unknown) => err);
    return (e as { code?: string } | undefined)?.code;
  }

  it("refuses a 9-channel UNet without a mask, bad strengths, bad images and a mask of another size", async () => {
    const unet9 = inpaintCases.find((c) => c.unet_in_channels === 9)!;
    const model9 = loadDiffusersFolder(modelDir(unet9));
    const p9 = await openPipeline(model9);
    const model4 = loadDiffusersFolder(goldenModelDir("sd1", unet9.scheduler_config));
    const p4 = await openPipeline(model4);
    try {
      expect(await codeOf(imageToImage(p9, base))).toBe("invalidMaskImage");
      expect(await codeOf(imageToImage(p4, { ...base, strength: 0 }))).toBe("invalidStrength");
      expect(await codeOf(inpaint(p9, { ...base, strength: 1.5, maskImage: mask }))).toBe("invalidStrength");
      expect(await codeOf(imageToImage(p4, { ...base, seedImage: new Uint8Array([1, 2, 3]) }))).toBe("invalidSeedImage");
      expect(await codeOf(inpaint(p4, { ...base, maskImage: new Uint8Array([1, 2, 3]) }))).toBe("invalidMaskImage");
      const seed128 = await imageToImage(p4, { ...base, width: 128, height: 64, strength: 1 });
      expect([seed128.image.width, seed128.image.height]).toEqual([128, 64]);
      const seedImage = new Uint8Array(readFileSync(goldenPath("diffusion", dir, "init_0.png")));
      const otherMask = await encodeImage(new Uint8Array(32 * 32 * 3).fill(255), 32, 32, { format: "png" });
      expect(await codeOf(inpaint(p9, { ...base, seedImage, maskImage: otherMask }))).toBe("invalidMaskImage");
    } finally {
      await Promise.all([p9.release(), p4.release()]);
      closeModel(model9);
      closeModel(model4);
    }
  });
});

describe("vellum generate --seed-image / --strength / --mask-image", () => {
  const pick = (name: string) => all.find((c) => c.name === name)!;
  it.each(["img2img_dpmpp_2m_karras_s0.75_csNone", "inpaint_unet4_euler_s0.75"].map((n) => [n, pick(n)] as const))(
    "%s from the seed alone through the command line, with Denoising strength in the metadata",
    async (_n, c) => {
      const outDir = mkdtempSync(join(tmpdir(), "vellum-img2img-cli-"));
      const png = join(outDir, "out.png");
      const tensorPath = join(outDir, "out.safetensors");
      const args = ["--model", modelDir(c), "--prompt", c.prompt, "--negative-prompt", c.negative_prompt!, "--literal",
        "--steps", String(c.num_inference_steps), "--cfg", String(c.guidance_scale), "--seed", String(c.seed), "--rng", "cpu",
        "--seed-image", goldenPath("diffusion", c.init_image), "--strength", String(c.strength),
        ...(c.mask_image !== undefined ? ["--mask-image", goldenPath("diffusion", c.mask_image)] : []),
        "--out", png, "--out-tensor", tensorPath];
      await runGenerate(args);
      // No --width/--height: the seed image's size (64×64) is used.
      expectClose(readSafetensors(tensorPath).get("image")!, tensorOf(c, "image_np"), { atol: 2e-3, label: `${c.name} CLI image_np` });
      const parameters = readPngTextChunks(new Uint8Array(readFileSync(png)))["parameters"]!;
      expect(parseParameters(parameters).fields["Denoising strength"]).toBe(String(c.strength));
    },
  );
});

describe("every sampler runs img2img and 4-channel inpainting (no reference: runs, finite, step count)", () => {
  const c = all.find((x) => x.name === "inpaint_unet4_euler_s0.75")!;
  it("strength 0.5, 4 steps, all samplers; SDXL img2img and inpainting (Euler, 0.75)", async () => {
    const model = loadDiffusersFolder(goldenModelDir("sd1", c.scheduler_config));
    const pipeline = await openPipeline(model);
    const seedImage = new Uint8Array(readFileSync(goldenPath("diffusion", c.init_image)));
    const maskImage = new Uint8Array(readFileSync(goldenPath("diffusion", c.mask_image!)));
    try {
      for (const scheduler of SAMPLER_IDS) {
        for (const mask of [undefined, maskImage]) {
          const steps: number[] = [];
          const req = { prompt: "a cabin", width: 64, height: 64, steps: 4, guidanceScale: 5, scheduler, seed: 3n, strength: 0.5, seedImage };
          const ctx = { onProgress: (p: { step: number; total: number }) => steps.push(p.total) };
          const r = mask === undefined ? await imageToImage(pipeline, req, ctx) : await inpaint(pipeline, { ...req, maskImage: mask }, ctx);
          const label = `${scheduler}${mask ? " inpaint" : ""}`;
          expect(steps.length, label).toBe(r.timesteps.length);
          expect(r.timesteps.length, label).toBeGreaterThan(0);
          expect(r.image.np.data.every(Number.isFinite), `${label} finite`).toBe(true);
        }
      }
    } finally {
      await pipeline.release();
      closeModel(model);
    }
    const xl = loadDiffusersFolder(goldenModelDir("sdxl", c.scheduler_config));
    const xlPipeline = await openPipeline(xl);
    try {
      const req = { prompt: "a cabin", width: 64, height: 64, steps: 4, guidanceScale: 5, seed: 3n, strength: 0.75, seedImage };
      for (const r of [await imageToImage(xlPipeline, req), await inpaint(xlPipeline, { ...req, maskImage })]) {
        expect(r.timesteps).toHaveLength(3);
        expect(r.image.np.data.every(Number.isFinite)).toBe(true);
      }
    } finally {
      await xlPipeline.release();
      closeModel(xl);
    }
  }, 300_000);
});
