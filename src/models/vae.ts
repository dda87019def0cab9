// AutoencoderKL (diffusers 0.27.2) as two ONNX graphs: the encoder (image → latent distribution, quant_conv
// included; needed for img2img and inpainting) and the decoder (latents → image in [-1, 1], post_quant_conv included).
import type { JsonConfig } from "../checkpoint/model.js";

export const VAE_ENCODER_INPUT = "image";
export const VAE_ENCODER_OUTPUTS = { mean: "mean", logvar: "logvar", std: "std" } as const;
export const VAE_DECODER_INPUT = "latents";
export const VAE_DECODER_OUTPUT = "image";

/** A diffusers `vae/config.json` with 0.27.2 defaults applied. */
export interface VAEConfig {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly latentChannels: number;
  readonly blockOutChannels: readonly number[];
  readonly layersPerBlock: number;
  readonly normNumGroups: number;
  /** Pipelines multiply encoder samples by it and divide latents by it before decoding. */
  readonly scalingFactor: number;
  /** Later diffusers (SD3/Flux VAEs): latents = (z − shift) · scale. 0 for SD1/SD2/SDXL. */
  readonly shiftFactor: number;
  /** SDXL's VAE overflows in float16; diffusers then decodes in float32. */
  readonly forceUpcast: boolean;
  readonly latentsMean: readonly number[] | undefined;
  readonly latentsStd: readonly number[] | undefined;
  readonly midBlockAddAttention: boolean;
  readonly useQuantConv: boolean;
  readonly usePostQuantConv: boolean;
  readonly sampleSize: number;
}

type Json = Record<string, unknown>;

function num(json: Json, key: string, fallback: number): number {
  const v = json[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "number") throw new Error(`vae config: ${key} must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function bool(json: Json, key: string, fallback: boolean): boolean {
  const v = json[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "boolean") throw new Error(`vae config: ${key} must be a boolean, got ${JSON.stringify(v)}`);
  return v;
}

function numbers(json: Json, key: string): number[] | undefined {
  const v = json[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === "number")) throw new Error(`vae config: ${key} must be a list of numbers`);
  return v as number[];
}

/** Parses a diffusers `vae/config.json`; throws on block types the builder lacks. */
export function vaeConfigFromJson(json: JsonConfig): VAEConfig {
  const blockOutChannels = numbers(json, "block_out_channels") ?? [64];
  const down = (json["down_block_types"] as unknown[] | undefined) ?? blockOutChannels.map(() => "DownEncoderBlock2D");
  const up = (json["up_block_types"] as unknown[] | undefined) ?? blockOutChannels.map(() => "UpDecoderBlock2D");
  if (down.length !== blockOutChannels.length || down.some((t) => t !== "DownEncoderBlock2D")) {
    throw new Error(`vae config: down_block_types must be ${blockOutChannels.length} × DownEncoderBlock2D, got ${JSON.stringify(down)}`);
  }
  if (up.length !== blockOutChannels.length || up.some((t) => t !== "UpDecoderBlock2D")) {
    throw new Error(`vae config: up_block_types must be ${blockOutChannels.length} × UpDecoderBlock2D, got ${JSON.stringify(up)}`);
  }
  const act = json["act_fn"] ?? "silu";
  if (act !== "silu") throw new Error(`vae config: act_fn ${String(act)} is not supported`);
  return {
    inChannels: num(json, "in_channels", 3),
    outChannels: num(json, "out_channels", 3),
    latentChannels: num(json, "latent_channels", 4),
    blockOutChannels,
    layersPerBlock: num(json, "layers_per_block", 1),
    normNumGroups: num(json, "norm_num_groups", 32),
    scalingFactor: num(json, "scaling_factor", 0.18215),
    shiftFactor: num(json, "shift_factor", 0),
    forceUpcast: bool(json, "force_upcast", true),
    latentsMean: numbers(json, "latents_mean"),
    latentsStd: numbers(json, "latents_std"),
    midBlockAddAttention: bool(json, "mid_block_add_attention", true),
    useQuantConv: bool(json, "use_quant_conv", true),
    usePostQuantConv: bool(json, "use_post_quant_conv", true),
    sampleSize: num(json, "sample_size", 32),
  };
}
