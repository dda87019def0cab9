// The built-in demo model `vellum:demo@1`: a tiny random-weight SD1 checkpoint (the golden tiny models' sizes),
// written once into the data dir when the models folder has no checkpoint, so a fresh install can run end to end.
// Its images are noise: the entry says so.
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { singleFileLayout } from "../checkpoint/keymap/layout.js";
import { CLIP_BASE, UNET_BASE, VAE_BASE } from "../checkpoint/keymap/standard-configs.js";
import type { JsonConfig } from "../checkpoint/model.js";
import { writeRandomCheckpoint } from "./random-checkpoint.js";

export const DEMO_AIR = "vellum:demo@1";
export const DEMO_SEED = 20240501;

export const DEMO_CONFIGS: { unet: JsonConfig; vae: JsonConfig; text_encoder: JsonConfig } = {
  unet: {
    ...UNET_BASE,
    attention_head_dim: 8,
    block_out_channels: [32, 64],
    cross_attention_dim: 32,
    down_block_types: ["CrossAttnDownBlock2D", "DownBlock2D"],
    up_block_types: ["UpBlock2D", "CrossAttnUpBlock2D"],
    in_channels: 4,
    out_channels: 4,
    layers_per_block: 2,
    sample_size: 16,
    transformer_layers_per_block: 1,
  },
  vae: {
    ...VAE_BASE,
    block_out_channels: [32, 64, 64, 64],
    down_block_types: Array(4).fill("DownEncoderBlock2D"),
    up_block_types: Array(4).fill("UpDecoderBlock2D"),
    layers_per_block: 1,
    sample_size: 64,
    scaling_factor: 0.18215,
  },
  text_encoder: {
    ...CLIP_BASE,
    bos_token_id: 49406,
    eos_token_id: 49407,
    pad_token_id: 49407,
    hidden_size: 32,
    intermediate_size: 37,
    num_attention_heads: 4,
    num_hidden_layers: 5,
    projection_dim: 512,
  },
};

/** Writes (once) `<dataDir>/demo/vellum-demo-random-weights.safetensors` + its `.config.json`; returns the path. */
export function ensureDemoModel(dataDir: string): string {
  const dir = join(dataDir, "demo");
  const path = join(dir, "vellum-demo-random-weights.safetensors");
  if (existsSync(path)) return path;
  mkdirSync(dir, { recursive: true });
  const layout = singleFileLayout({ family: "sd1", unet: DEMO_CONFIGS.unet, vae: DEMO_CONFIGS.vae, textEncoder: DEMO_CONFIGS.text_encoder });
  writeFileSync(join(dir, "vellum-demo-random-weights.config.json"), JSON.stringify({ _comment: "vellum demo model: RANDOM weights, images are noise", ...DEMO_CONFIGS }, null, 1));
  const tmp = `${path}.partial`;
  writeRandomCheckpoint(tmp, layout, { dtype: "float32", seed: DEMO_SEED, metadata: { "modelspec.title": "vellum demo (random weights)", "vellum.demo": "true" } });
  // rename last, so a crash never leaves a half-written checkpoint under the real name
  renameSync(tmp, path);
  return path;
}
