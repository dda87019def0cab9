// Random-weight checkpoints in the original single-file layout, full size (benchmarks) or tiny (tests):
// SD1.5 or SDXL base, fp16 by default. Tiny ones also get a `<basename>.config.json` sidecar (their head counts
// are not the standard ones shapes imply).
import { writeFileSync } from "node:fs";
import { basename, dirname, extname, join } from "node:path";
import { singleFileLayout, type SingleFileSpec } from "../checkpoint/keymap/layout.js";
import { CLIP_BASE, UNET_BASE } from "../checkpoint/keymap/standard-configs.js";
import { STANDARD_SPECS } from "../checkpoint/keymap/standard-specs.js";
import { DEMO_CONFIGS } from "./demo.js";
import { writeRandomCheckpoint } from "./random-checkpoint.js";

export type MakeArch = "sd15" | "sdxl";

/** The golden tiny models' sizes (SD1: unet (32, 64); SDXL: unet (32, 64, 64), CLIP-L 32 wide + bigG 40 wide). */
const TINY: Record<MakeArch, SingleFileSpec> = {
  sd15: { family: "sd1", unet: DEMO_CONFIGS.unet, vae: DEMO_CONFIGS.vae, textEncoder: DEMO_CONFIGS.text_encoder },
  sdxl: {
    family: "sdxl",
    unet: {
      ...UNET_BASE,
      addition_embed_type: "text_time",
      addition_time_embed_dim: 8,
      attention_head_dim: [2, 4, 4],
      block_out_channels: [32, 64, 64],
      cross_attention_dim: 72,
      down_block_types: ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
      up_block_types: ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
      in_channels: 4,
      out_channels: 4,
      layers_per_block: 2,
      projection_class_embeddings_input_dim: 72,
      sample_size: 16,
      transformer_layers_per_block: [1, 1, 2],
      use_linear_projection: true,
    },
    vae: { ...DEMO_CONFIGS.vae, scaling_factor: 0.13025 },
    textEncoder: DEMO_CONFIGS.text_encoder,
    textEncoder2: { ...CLIP_BASE, architectures: ["CLIPTextModelWithProjection"], hidden_act: "gelu", hidden_size: 40, intermediate_size: 53, num_attention_heads: 5, num_hidden_layers: 6, projection_dim: 24 },
  },
};

export interface MakeCheckpointOptions {
  readonly arch: MakeArch;
  readonly out: string;
  readonly tiny?: boolean;
  readonly dtype?: "float16" | "float32";
  readonly seed?: number;
}

export function makeCheckpoint(opts: MakeCheckpointOptions): { bytes: number; tensors: number } {
  const spec = opts.tiny ? TINY[opts.arch] : STANDARD_SPECS[opts.arch];
  const result = writeRandomCheckpoint(opts.out, singleFileLayout(spec), {
    dtype: opts.dtype ?? "float16",
    seed: opts.seed ?? 1,
    metadata: { "modelspec.title": `random ${opts.arch}${opts.tiny ? " (tiny)" : ""} — benchmark weights, not a model` },
  });
  if (opts.tiny) {
    const sidecar = join(dirname(opts.out), `${basename(opts.out, extname(opts.out))}.config.json`);
    const configs = { unet: spec.unet, vae: spec.vae, text_encoder: spec.textEncoder, ...(spec.textEncoder2 && { text_encoder_2: spec.textEncoder2 }) };
    writeFileSync(sidecar, JSON.stringify(configs, null, 1));
  }
  return result;
}
