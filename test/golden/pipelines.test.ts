// Text-to-image against diffusers 0.27.2: every case of pipelines_symmetric/ (our clipSkip is symmetric), from the
// stored initial latents, through the model's own scheduler config ("Default"), README section 3 tolerances.
import { describe, expect, it } from "vitest";
import { loadDiffusersFolder, closeModel } from "../../src/checkpoint/model.js";
import { openPipeline } from "../../src/pipeline/pipeline.js";
import { textToImage } from "../../src/pipeline/text-to-image.js";
import { expectClose, loadGolden } from "../helpers/golden.js";
import { goldenModelDir } from "../helpers/model-fixtures.js";
import { caseTensor, symmetricCases, type PipelineCase } from "../helpers/pipeline-cases.js";

export async function runCase(c: PipelineCase) {
  const model = loadDiffusersFolder(goldenModelDir(c.family, c.schedulerConfig));
  const pipeline = await openPipeline(model);
  try {
    return await textToImage(pipeline, { ...c.request, seed: 0n, latents: caseTensor(c, "initial_latents") });
  } finally {
    await pipeline.release();
    closeModel(model);
  }
}

export function expectCase(c: PipelineCase, result: Awaited<ReturnType<typeof runCase>>): void {
  // Embeddings: the text README's tolerance for another runtime (1e-4 relative to the largest value, which reaches ~30);
  // the diffusion README's abs 1e-5 assumes torch's own op order and is exceeded by ~1 ulp at |x| ≈ 10 under ONNX Runtime.
  expectClose(result.embeddings.promptEmbeds, caseTensor(c, "prompt_embeds"), { scaled: 1e-4, label: `${c.name} prompt_embeds` });
  if (loadGolden("diffusion", c.file).has("negative_prompt_embeds")) {
    expectClose(result.embeddings.negativePromptEmbeds, caseTensor(c, "negative_prompt_embeds"), { scaled: 1e-4, label: `${c.name} negative_prompt_embeds` });
  }
  expectClose(result.latents, caseTensor(c, "final_latents"), { scaled: 1e-4, label: `${c.name} final_latents` });
  expectClose(result.image.np, caseTensor(c, "image_np"), { atol: 2e-3, label: `${c.name} image_np` });
  expectClose(result.image.rgb, loadGolden("diffusion", c.file).get("image_uint8")!.data as Uint8Array, { atol: 1, label: `${c.name} image_uint8` });
}

describe.each(["pipelines_symmetric", "sd2/pipelines_symmetric"] as const)("text-to-image: %s", (dir) => {
  const cases = symmetricCases(dir);
  it("has cases", () => expect(cases.length).toBeGreaterThan(0));
  it.each(cases.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    expectCase(c, await runCase(c));
  });
});
