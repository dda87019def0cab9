// The golden text-to-image cases (diffusers StableDiffusion(XL)Pipeline runs) as requests for our pipeline.
import type { TextToImageRequest } from "../../src/pipeline/text-to-image.js";
import type { Float32Tensor } from "../../src/tensor/tensor.js";
import { goldenJson, loadGolden } from "./golden.js";
import type { GoldenFamily } from "./model-fixtures.js";

export interface PipelineCase {
  name: string;
  /** Path relative to golden/diffusion of the tensors to compare with. */
  file: string;
  family: GoldenFamily;
  schedulerConfig: Record<string, unknown>;
  request: Omit<TextToImageRequest, "seed" | "latents">;
}

interface RawCase {
  name: string;
  file: string;
  scheduler_config: Record<string, unknown>;
  prompt: string;
  negative_prompt: string | null;
  guidance_scale: number;
  guidance_rescale?: number;
  clip_skip: number | null;
  num_inference_steps: number;
  height: number;
  width: number;
  original_size?: [number, number];
  crops_coords_top_left?: [number, number];
  target_size?: [number, number];
}

interface Index {
  cases: RawCase[];
  aliases?: { name: string; alias_of: string }[];
}

function toCase(raw: RawCase, name: string, file: string): PipelineCase {
  const family: GoldenFamily = name.startsWith("sdxl") ? "sdxl" : name.startsWith("sd2") ? "sd2" : "sd1";
  return {
    name,
    file,
    family,
    schedulerConfig: raw.scheduler_config,
    request: {
      prompt: raw.prompt,
      ...(raw.negative_prompt !== null && { negativePrompt: raw.negative_prompt }),
      literal: true,
      width: raw.width,
      height: raw.height,
      steps: raw.num_inference_steps,
      guidanceScale: raw.guidance_scale,
      ...(raw.guidance_rescale !== undefined && { guidanceRescale: raw.guidance_rescale }),
      clipSkip: raw.clip_skip ?? 0,
      ...(raw.original_size && { originalSize: raw.original_size }),
      ...(raw.crops_coords_top_left && { cropsTopLeft: raw.crops_coords_top_left }),
      ...(raw.target_size && { targetSize: raw.target_size }),
    },
  };
}

/**
 * Every symmetric-clip-skip case (our rule) of a pipelines_symmetric index: its own new cases, plus the aliases
 * whose tensors are the asymmetric run (identical under both rules), with the parameters of that run.
 */
export function symmetricCases(dir: "pipelines_symmetric" | "sd2/pipelines_symmetric"): PipelineCase[] {
  const asymDir = dir.replace("_symmetric", "");
  const sym = goldenJson<Index>("diffusion", dir, "index.json");
  const asym = goldenJson<Index>("diffusion", asymDir, "index.json");
  const out = sym.cases.map((c) => toCase(c, c.name, c.file));
  for (const alias of sym.aliases ?? []) {
    const raw = asym.cases.find((c) => c.file === alias.alias_of);
    if (raw === undefined) throw new Error(`${dir}: alias ${alias.name} → ${alias.alias_of} not in ${asymDir}/index.json`);
    out.push(toCase(raw, alias.name, raw.file));
  }
  return out;
}

export function caseTensor(c: PipelineCase, key: string): Float32Tensor {
  const t = loadGolden("diffusion", c.file).get(key);
  if (t === undefined) throw new Error(`${c.file} has no ${key}`);
  return t as Float32Tensor;
}
