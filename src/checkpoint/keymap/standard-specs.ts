// Full-size architectures as specs for `singleFileLayout` (fixtures, benchmark checkpoints): the published
// diffusers / transformers configs of SD1.5, SD1.5 inpainting, SD2.1, SDXL base and SDXL refiner.
import type { JsonConfig } from "../model.js";
import type { SingleFileSpec } from "./layout.js";
import { CLIP_BASE, UNET_BASE, VAE_BASE } from "./standard-configs.js";

const CA = "CrossAttnDownBlock2D", D = "DownBlock2D", CU = "CrossAttnUpBlock2D", U = "UpBlock2D";

const vae = (scaling: number, size: number): JsonConfig => ({
  ...VAE_BASE,
  block_out_channels: [128, 256, 512, 512],
  down_block_types: Array(4).fill("DownEncoderBlock2D"),
  up_block_types: Array(4).fill("UpDecoderBlock2D"),
  layers_per_block: 2,
  sample_size: size,
  scaling_factor: scaling,
});

const clipL: JsonConfig = { ...CLIP_BASE, hidden_size: 768, intermediate_size: 3072, num_attention_heads: 12, num_hidden_layers: 12, projection_dim: 768 };
const clipH: JsonConfig = { ...CLIP_BASE, hidden_act: "gelu", hidden_size: 1024, intermediate_size: 4096, num_attention_heads: 16, num_hidden_layers: 23, projection_dim: 512 };
const clipBigG: JsonConfig = { ...CLIP_BASE, architectures: ["CLIPTextModelWithProjection"], hidden_act: "gelu", hidden_size: 1280, intermediate_size: 5120, num_attention_heads: 20, num_hidden_layers: 32, projection_dim: 1280 };

const sd15Unet: JsonConfig = {
  ...UNET_BASE,
  attention_head_dim: 8,
  block_out_channels: [320, 640, 1280, 1280],
  cross_attention_dim: 768,
  down_block_types: [CA, CA, CA, D],
  up_block_types: [U, CU, CU, CU],
  in_channels: 4,
  out_channels: 4,
  layers_per_block: 2,
  sample_size: 64,
  transformer_layers_per_block: 1,
};

export const STANDARD_SPECS: Record<"sd15" | "sd15-inpainting" | "sd21" | "sdxl" | "sdxl-refiner", SingleFileSpec> = {
  sd15: { family: "sd1", unet: sd15Unet, vae: vae(0.18215, 512), textEncoder: clipL },
  "sd15-inpainting": { family: "sd1", unet: { ...sd15Unet, in_channels: 9 }, vae: vae(0.18215, 512), textEncoder: clipL },
  sd21: {
    family: "sd2",
    unet: { ...sd15Unet, attention_head_dim: [5, 10, 20, 20], cross_attention_dim: 1024, use_linear_projection: true, upcast_attention: true, sample_size: 96 },
    vae: vae(0.18215, 768),
    textEncoder: clipH,
  },
  sdxl: {
    family: "sdxl",
    unet: {
      ...UNET_BASE,
      addition_embed_type: "text_time",
      addition_time_embed_dim: 256,
      attention_head_dim: [5, 10, 20],
      block_out_channels: [320, 640, 1280],
      cross_attention_dim: 2048,
      down_block_types: [D, CA, CA],
      up_block_types: [CU, CU, U],
      in_channels: 4,
      out_channels: 4,
      layers_per_block: 2,
      projection_class_embeddings_input_dim: 2816,
      sample_size: 128,
      transformer_layers_per_block: [1, 2, 10],
      use_linear_projection: true,
    },
    vae: { ...vae(0.13025, 1024) },
    textEncoder: clipL,
    textEncoder2: clipBigG,
  },
  "sdxl-refiner": {
    family: "sdxl-refiner",
    unet: {
      ...UNET_BASE,
      addition_embed_type: "text_time",
      addition_time_embed_dim: 256,
      attention_head_dim: [6, 12, 24, 24],
      block_out_channels: [384, 768, 1536, 1536],
      cross_attention_dim: 1280,
      down_block_types: [D, CA, CA, D],
      up_block_types: [U, CU, CU, U],
      in_channels: 4,
      out_channels: 4,
      layers_per_block: 2,
      projection_class_embeddings_input_dim: 2560,
      sample_size: 128,
      transformer_layers_per_block: 4,
      use_linear_projection: true,
    },
    vae: vae(0.13025, 1024),
    textEncoder2: clipBigG,
  },
};
