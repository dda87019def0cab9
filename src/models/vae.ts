// AutoencoderKL (diffusers 0.27.2) as two ONNX graphs: the encoder (image → latent distribution, quant_conv
// included; needed for img2img and inpainting) and the decoder (latents → image in [-1, 1], post_quant_conv included).
import type { JsonConfig } from "../checkpoint/model.js";
import type { WeightSource } from "../checkpoint/weights.js";
import { GraphBuilder, type BuiltGraph, type Value } from "../graph/index.js";
import { conv2d, downsample, groupNorm, resnetBlock, upsample, vaeAttention, type Net } from "./blocks.js";

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

/** diffusers' VAE blocks use GroupNorm eps 1e-6 everywhere. */
const VAE_EPS = 1e-6;

/** UNetMidBlock2D without time embedding: resnet → attention → resnet. */
function midBlock(net: Net, x: Value, config: VAEConfig, prefix: string): Value {
  const opts = { groups: config.normNumGroups, eps: VAE_EPS };
  let h = resnetBlock(net, x, undefined, `${prefix}.resnets.0`, opts);
  if (config.midBlockAddAttention) h = vaeAttention(net, h, `${prefix}.attentions.0`, config.normNumGroups);
  return resnetBlock(net, h, undefined, `${prefix}.resnets.1`, opts);
}

/** GroupNorm → SiLU → conv_out. */
function head(net: Net, x: Value, config: VAEConfig, prefix: string): Value {
  return conv2d(net, net.g.silu(groupNorm(net, x, `${prefix}.conv_norm_out`, config.normNumGroups, VAE_EPS)), `${prefix}.conv_out`);
}

/**
 * Encoder + quant_conv: `image` [B, 3, H, W] in [-1, 1] → the diagonal Gaussian `mean`, `logvar` (clamped to
 * [-30, 20] as diffusers) and `std` = exp(logvar / 2), each [B, latent, H/f, W/f]. Latents for the pipeline are
 * (mean + std · eps) · scaling_factor — the scaling is the caller's.
 */
export function buildVAEEncoderGraph(config: VAEConfig, weights: WeightSource): BuiltGraph {
  const g = new GraphBuilder("vae_encoder");
  const net: Net = { g, weights };
  const image = g.input(VAE_ENCODER_INPUT, "float32", ["batch", config.inChannels, "height", "width"]);
  const resnet = { groups: config.normNumGroups, eps: VAE_EPS };
  const levels = config.blockOutChannels.length;
  let h = conv2d(net, image, "encoder.conv_in"); // [B, ch0, H, W]
  for (let i = 0; i < levels; i++) {
    for (let j = 0; j < config.layersPerBlock; j++) h = resnetBlock(net, h, undefined, `encoder.down_blocks.${i}.resnets.${j}`, resnet); // [B, ch_i, H', W']
    if (i < levels - 1) h = downsample(net, h, `encoder.down_blocks.${i}.downsamplers.0`, 0); // [B, ch_i, H'/2, W'/2]
  }
  h = midBlock(net, h, config, "encoder.mid_block");
  let moments = head(net, h, config, "encoder"); // [B, 2·latent, h, w]
  if (config.useQuantConv) moments = conv2d(net, moments, "quant_conv"); // [B, 2·latent, h, w]
  const [mean, rawLogvar] = g.split(moments, [config.latentChannels, config.latentChannels], 1, "moments") as [Value, Value]; // [B, latent, h, w] × 2
  const logvar = g.op("Clip", [rawLogvar, g.scalar(-30), g.scalar(20)], {}, { name: "logvar/clamp" });
  const std = g.exp(g.mul(logvar, 0.5));
  const dims = ["batch", config.latentChannels, "latent_height", "latent_width"];
  g.output(mean, VAE_ENCODER_OUTPUTS.mean, "float32", dims);
  g.output(logvar, VAE_ENCODER_OUTPUTS.logvar, "float32", dims);
  g.output(std, VAE_ENCODER_OUTPUTS.std, "float32", dims);
  return g.build();
}

export interface VAEDecoderOptions {
  /**
   * false (default): `latents` is what diffusers' `vae.decode` takes, i.e. pipeline latents already divided by
   * scaling_factor. true: the graph takes pipeline latents and computes latents / scaling_factor + shift_factor.
   */
  readonly applyScaling?: boolean;
}

/** post_quant_conv + Decoder: `latents` [B, latent, h, w] → `image` [B, 3, h·f, w·f], roughly in [-1, 1] (not clamped). */
export function buildVAEDecoderGraph(config: VAEConfig, weights: WeightSource, opts: VAEDecoderOptions = {}): BuiltGraph {
  const g = new GraphBuilder("vae_decoder");
  const net: Net = { g, weights };
  let z = g.input(VAE_DECODER_INPUT, "float32", ["batch", config.latentChannels, "latent_height", "latent_width"]);
  if (opts.applyScaling === true) {
    z = g.div(z, config.scalingFactor, { name: "unscale" });
    if (config.shiftFactor !== 0) z = g.add(z, config.shiftFactor, { name: "unshift" });
  }
  if (config.usePostQuantConv) z = conv2d(net, z, "post_quant_conv"); // [B, latent, h, w]
  const resnet = { groups: config.normNumGroups, eps: VAE_EPS };
  const levels = config.blockOutChannels.length;
  let h = conv2d(net, z, "decoder.conv_in"); // [B, ch_last, h, w]
  h = midBlock(net, h, config, "decoder.mid_block");
  for (let i = 0; i < levels; i++) {
    for (let j = 0; j < config.layersPerBlock + 1; j++) h = resnetBlock(net, h, undefined, `decoder.up_blocks.${i}.resnets.${j}`, resnet); // [B, ch, H', W']
    if (i < levels - 1) h = upsample(net, h, `decoder.up_blocks.${i}.upsamplers.0`); // [B, ch, 2H', 2W']
  }
  const image = head(net, h, config, "decoder"); // [B, 3, H, W]
  g.output(image, VAE_DECODER_OUTPUT, "float32", ["batch", config.outChannels, "height", "width"]);
  return g.build();
}
