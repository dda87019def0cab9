// What a loaded Stable Diffusion model is, whatever file layout it came from: per component, its
// diffusers/transformers config (config.json content) and its weights under canonical names.
// Single-file checkpoints (checkpoint/single-file.ts) and diffusers folders (below) both produce this.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { SafetensorsFile } from "./safetensors.js";
import { safetensorsWeights, type WeightSource } from "./weights.js";

export type Family = "sd1" | "sd2" | "sdxl" | "sdxl-refiner";

export type JsonConfig = Record<string, unknown>;

export interface Component {
  /** The component's config in diffusers / transformers form (`unet/config.json`, `text_encoder/config.json`). */
  readonly config: JsonConfig;
  readonly weights: WeightSource;
}

export interface PipelineModel {
  readonly family: Family;
  /** Where it was loaded from (file or folder). */
  readonly source: string;
  readonly format: "diffusers" | "single-file";
  readonly unet?: Component;
  readonly vae?: Component;
  /** CLIP-L for SD1/SDXL, OpenCLIP-H for SD2. */
  readonly textEncoder?: Component;
  /** OpenCLIP-bigG with projection (SDXL). */
  readonly textEncoder2?: Component;
  /** Folders holding vocab.json + merges.txt (+ special tokens); absent → the bundled CLIP vocabulary. */
  readonly tokenizerDir?: string;
  readonly tokenizer2Dir?: string;
  /** The model's own scheduler config (diffusers `scheduler/scheduler_config.json`). */
  readonly schedulerConfig?: JsonConfig;
  /** Open files to close when the model is unloaded. */
  readonly files: SafetensorsFile[];
}

const WEIGHT_FILES = ["model.safetensors", "diffusion_pytorch_model.safetensors", "model.fp16.safetensors", "diffusion_pytorch_model.fp16.safetensors"];

function readJson(path: string): JsonConfig {
  return JSON.parse(readFileSync(path, "utf-8")) as JsonConfig;
}

function isDir(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

/** Loads one diffusers component folder (config.json + a safetensors weight file). */
export function loadComponentFolder(dir: string, files: SafetensorsFile[]): Component | undefined {
  const configPath = join(dir, "config.json");
  if (!existsSync(configPath)) return undefined;
  const weightsFile = WEIGHT_FILES.map((f) => join(dir, f)).find((p) => existsSync(p));
  if (weightsFile === undefined) {
    throw new Error(`${dir}: no weights (looked for ${WEIGHT_FILES.join(", ")}; .bin pickles are not loaded)`);
  }
  const file = SafetensorsFile.open(weightsFile);
  files.push(file);
  return { config: readJson(configPath), weights: safetensorsWeights(file) };
}

/** Tells the family from the components present (two encoders with projection → SDXL, etc.). */
export function familyOf(parts: { unet?: Component; textEncoder?: Component; textEncoder2?: Component }): Family {
  const unetCross = parts.unet?.config["cross_attention_dim"];
  const addition = parts.unet?.config["addition_embed_type"];
  if (parts.textEncoder2 !== undefined || addition === "text_time") {
    return parts.textEncoder === undefined && parts.unet !== undefined ? "sdxl-refiner" : "sdxl";
  }
  const act = parts.textEncoder?.config["hidden_act"];
  if (act === "gelu" || (typeof unetCross === "number" && unetCross === 1024) || parts.unet?.config["use_linear_projection"] === true) {
    return "sd2";
  }
  return "sd1";
}

/**
 * Loads a diffusers-layout folder: `unet/`, `vae/`, `text_encoder/`, `text_encoder_2/`, `tokenizer/`, `tokenizer_2/`,
 * `scheduler/`. Every component is optional (a folder with only text encoders is valid for encoding).
 */
export function loadDiffusersFolder(dir: string): PipelineModel {
  if (!isDir(dir)) throw new Error(`${dir}: not a folder`);
  const files: SafetensorsFile[] = [];
  try {
    const unet = loadComponentFolder(join(dir, "unet"), files);
    const vae = loadComponentFolder(join(dir, "vae"), files);
    const textEncoder = loadComponentFolder(join(dir, "text_encoder"), files);
    const textEncoder2 = loadComponentFolder(join(dir, "text_encoder_2"), files);
    if (!unet && !vae && !textEncoder && !textEncoder2) {
      throw new Error(`${dir}: no diffusers components found (expected unet/, vae/, text_encoder/ … each with config.json)`);
    }
    const schedulerPath = join(dir, "scheduler", "scheduler_config.json");
    const tokenizerDir = join(dir, "tokenizer");
    const tokenizer2Dir = join(dir, "tokenizer_2");
    return {
      family: familyOf({ ...(unet && { unet }), ...(textEncoder && { textEncoder }), ...(textEncoder2 && { textEncoder2 }) }),
      source: dir,
      format: "diffusers",
      ...(unet && { unet }),
      ...(vae && { vae }),
      ...(textEncoder && { textEncoder }),
      ...(textEncoder2 && { textEncoder2 }),
      ...(isDir(tokenizerDir) && { tokenizerDir }),
      ...(isDir(tokenizer2Dir) && { tokenizer2Dir }),
      ...(existsSync(schedulerPath) && { schedulerConfig: readJson(schedulerPath) }),
      files,
    };
  } catch (e) {
    for (const f of files) f.close();
    throw e;
  }
}

export function closeModel(model: PipelineModel): void {
  for (const f of model.files) f.close();
}
