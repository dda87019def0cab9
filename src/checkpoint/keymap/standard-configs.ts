// Published configs of the families we load, as data: the diffusers / transformers config.json values of
// SD1.5 (runwayml), SD2.1 (stabilityai/stable-diffusion-2-1) and SDXL base 1.0. Detection starts from these and
// overwrites what tensor shapes tell; what shapes cannot tell (attention heads, sample sizes) stays as published.
import type { JsonConfig } from "../model.js";

/** Keys every diffusers UNet2DConditionModel config carries (0.27.2 defaults). */
export const UNET_BASE: JsonConfig = {
  _class_name: "UNet2DConditionModel",
  act_fn: "silu",
  addition_embed_type: null,
  addition_embed_type_num_heads: 64,
  addition_time_embed_dim: null,
  attention_type: "default",
  center_input_sample: false,
  class_embed_type: null,
  class_embeddings_concat: false,
  conv_in_kernel: 3,
  conv_out_kernel: 3,
  cross_attention_norm: null,
  downsample_padding: 1,
  dropout: 0.0,
  dual_cross_attention: false,
  encoder_hid_dim: null,
  encoder_hid_dim_type: null,
  flip_sin_to_cos: true,
  freq_shift: 0,
  mid_block_only_cross_attention: null,
  mid_block_scale_factor: 1,
  mid_block_type: "UNetMidBlock2DCrossAttn",
  norm_eps: 1e-5,
  norm_num_groups: 32,
  num_attention_heads: null,
  num_class_embeds: null,
  only_cross_attention: false,
  projection_class_embeddings_input_dim: null,
  resnet_out_scale_factor: 1.0,
  resnet_skip_time_act: false,
  resnet_time_scale_shift: "default",
  reverse_transformer_layers_per_block: null,
  time_cond_proj_dim: null,
  time_embedding_act_fn: null,
  time_embedding_dim: null,
  time_embedding_type: "positional",
  timestep_post_act: null,
  upcast_attention: false,
  use_linear_projection: false,
};

export const VAE_BASE: JsonConfig = {
  _class_name: "AutoencoderKL",
  act_fn: "silu",
  force_upcast: true,
  in_channels: 3,
  latent_channels: 4,
  latents_mean: null,
  latents_std: null,
  norm_num_groups: 32,
  out_channels: 3,
};

export const CLIP_BASE: JsonConfig = {
  architectures: ["CLIPTextModel"],
  attention_dropout: 0.0,
  bos_token_id: 0,
  dropout: 0.0,
  eos_token_id: 2,
  hidden_act: "quick_gelu",
  initializer_factor: 1.0,
  initializer_range: 0.02,
  layer_norm_eps: 1e-5,
  max_position_embeddings: 77,
  model_type: "clip_text_model",
  pad_token_id: 1,
  torch_dtype: "float32",
  vocab_size: 49408,
};

/** Per family: UNet sample size (latent px), VAE sample size and scaling factor. */
export const FAMILY_SIZES = {
  sd1: { unetSampleSize: 64, vaeSampleSize: 512, scalingFactor: 0.18215, forceUpcast: true },
  sd2: { unetSampleSize: 96, vaeSampleSize: 768, scalingFactor: 0.18215, forceUpcast: true },
  sdxl: { unetSampleSize: 128, vaeSampleSize: 1024, scalingFactor: 0.13025, forceUpcast: true },
  "sdxl-refiner": { unetSampleSize: 128, vaeSampleSize: 1024, scalingFactor: 0.13025, forceUpcast: true },
} as const;

/** Attention heads of the standard CLIP text towers by width (ViT-L 768/12, ViT-H 1024/16, bigG 1280/20); else 64-wide heads. */
export function clipHeads(width: number): number {
  return width % 64 === 0 ? width / 64 : Math.max(1, Math.round(width / 64));
}

/** SD1's UNet names 8 heads "attention_head_dim"; SD2 / SDXL use 64-wide heads (heads = channels / 64 per level). */
export function standardAttentionHeadDim(family: "sd1" | "sd2" | "sdxl" | "sdxl-refiner", channels: readonly number[]): number | number[] {
  if (family === "sd1") return 8;
  return channels.map((c) => Math.max(1, Math.floor(c / 64)));
}
