// `vellum generate` end to end: the seeded CPU-RNG golden from the seed alone, the stored-latents pipeline goldens
// through the command line, PNG metadata that reads back, and guidance / clipSkip / seed each visibly changing the image.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { readSafetensors, writeSafetensors } from "../../src/checkpoint/safetensors.js";
import { parseParameters, readPngTextChunks } from "../../src/image/index.js";
import type { Float32Tensor } from "../../src/tensor/tensor.js";
import { compare, expectClose, goldenJson, goldenTensor } from "../helpers/golden.js";
import { goldenModelDir } from "../helpers/model-fixtures.js";
import { caseTensor, symmetricCases } from "../helpers/pipeline-cases.js";
import { runGenerate } from "../helpers/cli.js";

const out = mkdtempSync(join(tmpdir(), "vellum-generate-"));

const run = runGenerate;

function imageOf(path: string): Float32Tensor {
  return readSafetensors(path).get("image") as Float32Tensor;
}

interface E2E {
  scheduler_config: Record<string, unknown>;
  prompt: string;
  negative_prompt: string;
  clip_skip: number;
  guidance_scale: number;
  num_inference_steps: number;
  height: number;
  width: number;
}

describe("vellum generate", () => {
  const e2e = goldenJson<{ files: Record<string, E2E> }>("rng", "index.json").files["e2e_sd1_euler_a_seed42.safetensors"]!;
  let sd1: string;
  beforeAll(() => {
    sd1 = goldenModelDir("sd1", e2e.scheduler_config);
  });

  function baseArgs(): string[] {
    return ["--model", sd1, "--prompt", e2e.prompt, "--negative-prompt", e2e.negative_prompt, "--literal",
      "--steps", String(e2e.num_inference_steps), "--cfg", String(e2e.guidance_scale),
      "--width", String(e2e.width), "--height", String(e2e.height)];
  }

  it("reproduces diffusers' seeded Euler a run from the seed alone (--rng cpu)", async () => {
    const tensorPath = join(out, "e2e.safetensors");
    await run([...baseArgs(), "--seed", "42", "--rng", "cpu", "--clip-skip", String(e2e.clip_skip), "--out-tensor", tensorPath]);
    expectClose(imageOf(tensorPath), goldenTensor(["rng", "e2e_sd1_euler_a_seed42.safetensors"], "image_np"), { atol: 2e-3, label: "image_np" });
  });

  it("writes a PNG whose A1111 parameters read back", async () => {
    const png = join(out, "meta.png");
    await run([...baseArgs(), "--seed", "1234567890123", "--clip-skip", "1", "--out", png]);
    const text = readPngTextChunks(readFileSync(png))["parameters"];
    expect(text).toBeDefined();
    const p = parseParameters(text!);
    expect(p.prompt).toBe(e2e.prompt);
    expect(p.negativePrompt).toBe(e2e.negative_prompt);
    expect(p.fields["Seed"]).toBe("1234567890123");
    expect(p.fields["Steps"]).toBe(String(e2e.num_inference_steps));
    expect(p.fields["Size"]).toBe(`${e2e.width}x${e2e.height}`);
    expect(p.fields["Clip skip"]).toBe("2"); // A1111 numbering for our 1 on SD1
    expect(p.fields["vellum clipSkip"]).toBe("1");
  });

  it("guidance, clipSkip and seed each change the image far beyond tolerance", async () => {
    const variants: Record<string, string[]> = {
      base: ["--seed", "7", "--cfg", "7.5", "--clip-skip", "0"],
      guidance: ["--seed", "7", "--cfg", "1", "--clip-skip", "0"],
      clipSkip: ["--seed", "7", "--cfg", "7.5", "--clip-skip", "2"],
      seed: ["--seed", "8", "--cfg", "7.5", "--clip-skip", "0"],
    };
    const images: Record<string, Float32Tensor> = {};
    for (const [name, extra] of Object.entries(variants)) {
      const path = join(out, `${name}.safetensors`);
      await run([...baseArgs().filter((a, i, all) => a !== "--cfg" && all[i - 1] !== "--cfg"), ...extra, "--out-tensor", path]);
      images[name] = imageOf(path);
    }
    for (const name of ["guidance", "clipSkip", "seed"]) {
      // 2e-3 is the image_np tolerance; a real change moves pixels by an order of magnitude more.
      expect(compare(images[name]!, images["base"]!).maxAbs, name).toBeGreaterThan(10 * 2e-3);
    }
  });

  it("replays a stored-latents golden case through the command line", async () => {
    const c = symmetricCases("pipelines_symmetric").find((x) => x.family === "sd1" && (x.request.clipSkip ?? 0) > 0 && x.request.negativePrompt !== undefined)!;
    const dir = goldenModelDir("sd1", c.schedulerConfig);
    const latents = join(out, "latents.safetensors");
    writeSafetensors(latents, { latents: caseTensor(c, "initial_latents") });
    const tensorPath = join(out, "case.safetensors");
    const r = c.request;
    await run(["--model", dir, "--prompt", r.prompt, "--negative-prompt", r.negativePrompt!, "--literal", "--steps", String(r.steps),
      "--cfg", String(r.guidanceScale), "--clip-skip", String(r.clipSkip), "--width", String(r.width), "--height", String(r.height),
      "--latents", latents, "--out-tensor", tensorPath]);
    expectClose(imageOf(tensorPath), caseTensor(c, "image_np"), { atol: 2e-3, label: `${c.name} image_np` });
  });
});
