// loadModel(path): one entry point for any model on disk. A file → the single-file loader (detection, key maps,
// sidecars); a folder → the diffusers-folder loader. An optional separate VAE file replaces the checkpoint's.
import { statSync } from "node:fs";
import type { Detection } from "./detect.js";
import { ldmToDiffusersVae } from "./keymap/vae.js";
import { loadDiffusersFolder, type Component, type PipelineModel } from "./model.js";
import { SafetensorsFile } from "./safetensors.js";
import { assertSafetensors, loadSingleFile, type SingleFileInfo, type SingleFileOptions } from "./single-file.js";
import { fileWeight, safetensorsWeights, WeightMap, type WeightRef } from "./weights.js";
import { isVaeAttentionLinear } from "./keymap/vae.js";

export interface LoadOptions extends SingleFileOptions {
  /** A VAE `.safetensors` (LDM `first_stage_model.`/bare encoder.*, or diffusers names) overriding the model's VAE. */
  readonly vaePath?: string;
}

export interface LoadedModel {
  readonly model: PipelineModel;
  /** Present for single files. */
  readonly info?: SingleFileInfo;
  readonly detection?: Detection;
  readonly unmappedKeys: string[];
}

export function loadModel(path: string, opts: LoadOptions = {}): LoadedModel {
  const isDir = statSync(path).isDirectory();
  let loaded: LoadedModel;
  if (isDir) {
    loaded = { model: loadDiffusersFolder(path), unmappedKeys: [] };
  } else {
    const s = loadSingleFile(path, opts);
    loaded = { model: s.model, info: s.info, detection: s.info.detection, unmappedKeys: s.unmappedKeys };
  }
  if (opts.vaePath === undefined) return loaded;
  const base = loaded.model.vae;
  if (base === undefined) throw new Error(`${path}: has no VAE config to pair with ${opts.vaePath}`);
  const { weights, file } = loadVaeFile(opts.vaePath, (base.config["block_out_channels"] as number[]).length);
  const vae: Component = { config: base.config, weights };
  return { ...loaded, model: { ...loaded.model, vae, files: [...loaded.model.files, file] } };
}

/** A standalone VAE file: diffusers names kept, LDM names (with or without `first_stage_model.`) mapped. */
export function loadVaeFile(path: string, levels: number): { weights: WeightMap; file: SafetensorsFile } {
  assertSafetensors(path);
  const file = SafetensorsFile.open(path);
  const keys = file.names();
  if (keys.some((k) => k.startsWith("encoder.down_blocks.") || k.startsWith("decoder.up_blocks."))) {
    return { weights: safetensorsWeights(file), file };
  }
  const prefix = ["first_stage_model.", "vae.", ""].find((p) => file.has(`${p}decoder.conv_in.weight`));
  if (prefix === undefined) {
    file.close();
    throw new Error(`${path}: not a VAE (no decoder.conv_in.weight)`);
  }
  const refs = new Map<string, WeightRef>();
  for (const key of keys) {
    if (!key.startsWith(prefix)) continue;
    const name = ldmToDiffusersVae(key.slice(prefix.length), levels);
    if (name === undefined) continue;
    refs.set(name, fileWeight(file, key, name, isVaeAttentionLinear(name) ? file.info(key).shape.slice(0, 2) : undefined));
  }
  return { weights: new WeightMap(refs, `${path}:vae`), file };
}
