// UNet2DConditionModel (diffusers 0.27.2) as an ONNX graph. SD1, SD2 and SDXL are configs of this one builder:
// SD1 = conv proj_in/out, 8 heads everywhere; SD2 = linear projections, heads per block; SDXL = text_time
// embedding, 3 levels, transformer depth per block. Weights are read by diffusers canonical key.
import type { JsonConfig } from "../checkpoint/model.js";
import type { WeightSource } from "../checkpoint/weights.js";
import { GraphBuilder, type BuiltGraph, type Value } from "../graph/index.js";
import { float32 } from "../tensor/tensor.js";
import { conv2d, downsample, groupNorm, linear, resnetBlock, spatialTransformer, upsample, type Net } from "./blocks.js";

export const UNET_INPUTS = {
  sample: "sample",
  timestep: "timestep",
  encoderHiddenStates: "encoder_hidden_states",
  textEmbeds: "text_embeds",
  timeIds: "time_ids",
} as const;
export const UNET_OUTPUT = "noise_pred";

export type DownBlockType = "CrossAttnDownBlock2D" | "DownBlock2D";
export type UpBlockType = "CrossAttnUpBlock2D" | "UpBlock2D";

/** SDXL's micro-conditioning: `add_time_proj(time_ids)` ++ `text_embeds` → `add_embedding` (a TimestepEmbedding). */
export interface TextTimeEmbeddingConfig {
  /** Sinusoid width per time id (`addition_time_embed_dim`, 256 in SDXL). */
  readonly timeEmbedDim: number;
  /** Input width of `add_embedding.linear_1` (`projection_class_embeddings_input_dim` = pooled + 6 × timeEmbedDim). */
  readonly inputDim: number;
}

/**
 * A diffusers `unet/config.json` with every 0.27.2 default applied and every per-block field expanded to a list
 * (one entry per down block, in down order).
 *
 * `numAttentionHeads` is the head COUNT: diffusers reads `num_attention_heads or attention_head_dim`, and SD1/SD2/SDXL
 * configs only carry `attention_head_dim` (a historical misnomer); the head width is `channels / heads`.
 * `upcastAttention` (SD2.1) only matters in float16; graphs here compute attention in float32.
 */
export interface UNetConfig {
  readonly sampleSize: number | undefined;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly blockOutChannels: readonly number[];
  readonly downBlockTypes: readonly DownBlockType[];
  readonly upBlockTypes: readonly UpBlockType[];
  readonly midBlockType: "UNetMidBlock2DCrossAttn" | null;
  readonly layersPerBlock: readonly number[];
  /** Transformer depth per down block and per layer inside it: `[block][layer]`. */
  readonly transformerLayersPerBlock: readonly (readonly number[])[];
  /** Transformer depth per up block (up order) and layer; default: the down depths reversed. */
  readonly reverseTransformerLayersPerBlock: readonly (readonly number[])[];
  readonly numAttentionHeads: readonly number[];
  readonly crossAttentionDim: readonly number[];
  readonly useLinearProjection: boolean;
  readonly upcastAttention: boolean;
  readonly normNumGroups: number;
  readonly normEps: number;
  readonly flipSinToCos: boolean;
  readonly freqShift: number;
  readonly timeEmbeddingDim: number;
  readonly convInKernel: number;
  readonly convOutKernel: number;
  readonly centerInputSample: boolean;
  readonly midBlockScaleFactor: number;
  readonly resnetOutScaleFactor: number;
  readonly downsamplePadding: number;
  readonly addition: TextTimeEmbeddingConfig | undefined;
}

type Json = Record<string, unknown>;

function num(json: Json, key: string, fallback: number): number {
  const v = json[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "number") throw new Error(`unet config: ${key} must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function bool(json: Json, key: string, fallback: boolean): boolean {
  const v = json[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "boolean") throw new Error(`unet config: ${key} must be a boolean, got ${JSON.stringify(v)}`);
  return v;
}

function list<T>(json: Json, key: string, fallback: readonly T[]): readonly T[] {
  const v = json[key];
  if (v === undefined || v === null) return fallback;
  if (!Array.isArray(v)) throw new Error(`unet config: ${key} must be a list, got ${JSON.stringify(v)}`);
  return v as T[];
}

/** An `int | list` config field as one value per block. */
function perBlock(json: Json, key: string, fallback: number | readonly number[], n: number): number[] {
  const v = json[key] ?? fallback;
  if (typeof v === "number") return Array.from({ length: n }, () => v);
  if (Array.isArray(v) && v.length === n && v.every((x) => typeof x === "number")) return [...(v as number[])];
  throw new Error(`unet config: ${key} must be a number or a list of ${n} numbers, got ${JSON.stringify(v)}`);
}

/** `transformer_layers_per_block`: int, list of ints (per block) or list of lists (per block and layer). */
function depths(v: unknown, layers: readonly number[], key: string): number[][] {
  const n = layers.length;
  const perLayer = (x: unknown, i: number): number[] => {
    if (typeof x === "number") return Array.from({ length: layers[i]! }, () => x);
    if (Array.isArray(x) && x.every((d) => typeof d === "number")) return [...(x as number[])];
    throw new Error(`unet config: ${key}[${i}] must be a number or a list of numbers, got ${JSON.stringify(x)}`);
  };
  if (typeof v === "number") return layers.map((_, i) => perLayer(v, i));
  if (Array.isArray(v) && v.length === n) return v.map(perLayer);
  throw new Error(`unet config: ${key} must be a number or a list of ${n} entries, got ${JSON.stringify(v)}`);
}

function unsupported(json: Json, key: string, allowed: unknown[]): void {
  const v = json[key] ?? null;
  if (!allowed.includes(v)) throw new Error(`unet config: ${key} = ${JSON.stringify(v)} is not supported (supported: ${allowed.map((a) => JSON.stringify(a)).join(", ")})`);
}

const DEFAULT_DOWN: DownBlockType[] = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"];
const DEFAULT_UP: UpBlockType[] = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"];

/** Parses a diffusers `unet/config.json` (0.27.2 defaults for absent keys); throws on features the builder lacks. */
export function unetConfigFromJson(json: JsonConfig): UNetConfig {
  const downBlockTypes = list<string>(json, "down_block_types", DEFAULT_DOWN);
  const upBlockTypes = list<string>(json, "up_block_types", DEFAULT_UP);
  for (const t of downBlockTypes) if (t !== "CrossAttnDownBlock2D" && t !== "DownBlock2D") throw new Error(`unet config: down block ${t} is not supported`);
  for (const t of upBlockTypes) if (t !== "CrossAttnUpBlock2D" && t !== "UpBlock2D") throw new Error(`unet config: up block ${t} is not supported`);
  const n = downBlockTypes.length;
  const blockOutChannels = list<number>(json, "block_out_channels", [320, 640, 1280, 1280]);
  if (upBlockTypes.length !== n || blockOutChannels.length !== n) {
    throw new Error(`unet config: ${n} down blocks, ${upBlockTypes.length} up blocks and ${blockOutChannels.length} block_out_channels must agree`);
  }
  const midBlockType = json["mid_block_type"] === undefined ? "UNetMidBlock2DCrossAttn" : json["mid_block_type"];
  if (midBlockType !== "UNetMidBlock2DCrossAttn" && midBlockType !== null) throw new Error(`unet config: mid block ${String(midBlockType)} is not supported`);
  unsupported(json, "class_embed_type", [null]);
  unsupported(json, "encoder_hid_dim_type", [null]);
  unsupported(json, "addition_embed_type", [null, "text_time"]);
  unsupported(json, "time_embedding_type", [null, "positional"]);
  unsupported(json, "resnet_time_scale_shift", [null, "default"]);
  unsupported(json, "time_cond_proj_dim", [null]);
  unsupported(json, "time_embedding_act_fn", [null]);
  unsupported(json, "timestep_post_act", [null]);
  unsupported(json, "act_fn", [null, "silu"]);
  unsupported(json, "only_cross_attention", [null, false]);
  unsupported(json, "dual_cross_attention", [null, false]);
  unsupported(json, "attention_type", [null, "default"]);
  unsupported(json, "resnet_skip_time_act", [null, false]);
  unsupported(json, "cross_attention_norm", [null]);
  if (json["num_attention_heads"] !== undefined && json["num_attention_heads"] !== null) {
    // diffusers 0.27.2 refuses this key too (naming issue #2011); SD configs never set it.
    throw new Error("unet config: num_attention_heads is not accepted by diffusers 0.27.2; use attention_head_dim");
  }
  const layersPerBlock = perBlock(json, "layers_per_block", 2, n);
  const transformerLayersPerBlock = depths(json["transformer_layers_per_block"] ?? 1, layersPerBlock, "transformer_layers_per_block");
  const reverse = json["reverse_transformer_layers_per_block"];
  const upLayers = [...layersPerBlock].reverse().map((l) => l + 1);
  const reverseTransformerLayersPerBlock =
    reverse === undefined || reverse === null
      ? [...transformerLayersPerBlock].reverse().map((d, i) => Array.from({ length: upLayers[i]! }, (_, j) => d[j] ?? d[0] ?? 1))
      : depths(reverse, upLayers, "reverse_transformer_layers_per_block");
  const additionType = json["addition_embed_type"] ?? null;
  const ch0 = blockOutChannels[0]!;
  return {
    sampleSize: typeof json["sample_size"] === "number" ? json["sample_size"] : undefined,
    inChannels: num(json, "in_channels", 4),
    outChannels: num(json, "out_channels", 4),
    blockOutChannels,
    downBlockTypes: downBlockTypes as DownBlockType[],
    upBlockTypes: upBlockTypes as UpBlockType[],
    midBlockType,
    layersPerBlock,
    transformerLayersPerBlock,
    reverseTransformerLayersPerBlock,
    numAttentionHeads: perBlock(json, "attention_head_dim", 8, n),
    crossAttentionDim: perBlock(json, "cross_attention_dim", 1280, n),
    useLinearProjection: bool(json, "use_linear_projection", false),
    upcastAttention: bool(json, "upcast_attention", false),
    normNumGroups: num(json, "norm_num_groups", 32),
    normEps: num(json, "norm_eps", 1e-5),
    flipSinToCos: bool(json, "flip_sin_to_cos", true),
    freqShift: num(json, "freq_shift", 0),
    timeEmbeddingDim: num(json, "time_embedding_dim", ch0 * 4),
    convInKernel: num(json, "conv_in_kernel", 3),
    convOutKernel: num(json, "conv_out_kernel", 3),
    centerInputSample: bool(json, "center_input_sample", false),
    midBlockScaleFactor: num(json, "mid_block_scale_factor", 1),
    resnetOutScaleFactor: num(json, "resnet_out_scale_factor", 1),
    downsamplePadding: num(json, "downsample_padding", 1),
    addition:
      additionType === "text_time"
        ? {
            timeEmbedDim: requireNum(json, "addition_time_embed_dim"),
            inputDim: requireNum(json, "projection_class_embeddings_input_dim"),
          }
        : undefined,
  };
}

function requireNum(json: Json, key: string): number {
  const v = json[key];
  if (typeof v !== "number") throw new Error(`unet config: ${key} is required with addition_embed_type "text_time"`);
  return v;
}

/** One Transformer2DModel: head count, stacked BasicTransformerBlocks, width of the text context. */
export interface TransformerPlan {
  readonly heads: number;
  readonly depth: number;
  readonly contextDim: number;
}

export interface ResnetPlan {
  readonly inChannels: number;
  readonly outChannels: number;
  /** Channels of the skip tensor concatenated before this resnet (up blocks only; 0 elsewhere). */
  readonly skipChannels: number;
  readonly transformer: TransformerPlan | undefined;
}

export interface UNetBlockPlan {
  /** Key prefix: `down_blocks.1`, `mid_block`, `up_blocks.0`. */
  readonly prefix: string;
  readonly layers: readonly ResnetPlan[];
  readonly resample: "down" | "up" | undefined;
}

export interface UNetPlan {
  readonly down: readonly UNetBlockPlan[];
  readonly mid: UNetBlockPlan | undefined;
  readonly up: readonly UNetBlockPlan[];
}

/** The block plan diffusers' UNet2DConditionModel.__init__ builds, with the channels of every resnet and skip. */
export function unetPlan(config: UNetConfig): UNetPlan {
  const ch = config.blockOutChannels;
  const n = ch.length;
  const skips: number[] = [ch[0]!]; // conv_in output is the first skip
  const down: UNetBlockPlan[] = [];
  let channels = ch[0]!;
  for (let i = 0; i < n; i++) {
    const out = ch[i]!;
    const hasAttention = config.downBlockTypes[i] === "CrossAttnDownBlock2D";
    const layers: ResnetPlan[] = [];
    for (let j = 0; j < config.layersPerBlock[i]!; j++) {
      layers.push({
        inChannels: j === 0 ? channels : out,
        outChannels: out,
        skipChannels: 0,
        transformer: hasAttention
          ? { heads: config.numAttentionHeads[i]!, depth: config.transformerLayersPerBlock[i]![j]!, contextDim: config.crossAttentionDim[i]! }
          : undefined,
      });
      skips.push(out);
    }
    const isFinal = i === n - 1;
    if (!isFinal) skips.push(out);
    down.push({ prefix: `down_blocks.${i}`, layers, resample: isFinal ? undefined : "down" });
    channels = out;
  }
  const last = ch[n - 1]!;
  const midDepth = config.transformerLayersPerBlock[n - 1]!;
  const mid: UNetBlockPlan | undefined =
    config.midBlockType === null
      ? undefined
      : {
          prefix: "mid_block",
          layers: [
            { inChannels: last, outChannels: last, skipChannels: 0, transformer: { heads: config.numAttentionHeads[n - 1]!, depth: midDepth[0] ?? 1, contextDim: config.crossAttentionDim[n - 1]! } },
            { inChannels: last, outChannels: last, skipChannels: 0, transformer: undefined },
          ],
          resample: undefined,
        };
  const up: UNetBlockPlan[] = [];
  for (let i = 0; i < n; i++) {
    const r = n - 1 - i; // the matching down level
    const out = ch[r]!;
    const hasAttention = config.upBlockTypes[i] === "CrossAttnUpBlock2D";
    const layers: ResnetPlan[] = [];
    for (let j = 0; j < config.layersPerBlock[r]! + 1; j++) {
      const skip = skips.pop();
      if (skip === undefined) throw new Error("unet plan: more up-block resnets than skip connections");
      layers.push({
        inChannels: j === 0 ? channels : out,
        outChannels: out,
        skipChannels: skip,
        transformer: hasAttention
          ? { heads: config.numAttentionHeads[r]!, depth: config.reverseTransformerLayersPerBlock[i]![j]!, contextDim: config.crossAttentionDim[r]! }
          : undefined,
      });
    }
    channels = out;
    up.push({ prefix: `up_blocks.${i}`, layers, resample: i === n - 1 ? undefined : "up" });
  }
  return { down, mid, up };
}

/**
 * Frequencies of diffusers' `get_timestep_embedding` (max_period 10000), rounded as torch computes them in float32:
 * exp(−ln(10000) · i / (half − shift)), i < half.
 */
export function timestepFrequencies(channels: number, freqShift: number): Float32Array {
  if (channels % 2 !== 0) throw new Error(`timestep embedding: odd width ${channels} is not supported`);
  const half = channels / 2;
  const out = new Float32Array(half);
  const logMax = Math.fround(-Math.log(10000));
  const div = Math.fround(half - freqShift);
  for (let i = 0; i < half; i++) out[i] = Math.fround(Math.exp(Math.fround(Math.fround(logMax * i) / div)));
  return out;
}

/** Sinusoidal embedding of `t` [..., 1] → [..., channels]: [sin | cos], or [cos | sin] with flip_sin_to_cos. */
function sinusoid(g: GraphBuilder, t: Value, channels: number, config: UNetConfig, name: string): Value {
  const freqs = g.constant(float32([channels / 2], timestepFrequencies(channels, config.freqShift)), `${name}.freqs`);
  const args = g.mul(t, freqs, { name }); // [..., half]
  const sin = g.op("Sin", [args], {}, { name: `${name}/sin` });
  const cos = g.op("Cos", [args], {}, { name: `${name}/cos` });
  return g.concat(config.flipSinToCos ? [cos, sin] : [sin, cos], -1, `${name}/concat`); // [..., channels]
}

/** TimestepEmbedding: linear_1 → SiLU → linear_2. */
function timestepEmbedding(net: Net, x: Value, prefix: string): Value {
  return linear(net, net.g.silu(linear(net, x, `${prefix}.linear_1`)), `${prefix}.linear_2`); // [B, T]
}

export interface UNetGraphOptions {
  /** Also output `intermediate.<module>` tensors (time_proj, time_embedding, conv_in, down_blocks.i, …) for debugging. */
  readonly intermediates?: boolean;
}

/**
 * Builds the UNet2DConditionModel forward. Inputs: `sample` [B, Cin, H, W], `timestep` [B] or [1] (broadcast over
 * the batch), `encoder_hidden_states` [B, S, D] (S free: several 77-token chunks), and with text_time (SDXL)
 * `text_embeds` [B, P] and `time_ids` [B, K]. Output `noise_pred` [B, Cout, H, W]. Batch, H, W and S are dynamic.
 */
export function buildUNetGraph(config: UNetConfig, weights: WeightSource, opts: UNetGraphOptions = {}): BuiltGraph {
  const g = new GraphBuilder("unet");
  const net: Net = { g, weights };
  const debug = (v: Value, name: string): void => {
    if (opts.intermediates === true) g.output(v, `intermediate.${name}`);
  };
  const plan = unetPlan(config);
  const ch0 = config.blockOutChannels[0]!;

  let sample = g.input(UNET_INPUTS.sample, "float32", ["batch", config.inChannels, "height", "width"]);
  const timestep = g.input(UNET_INPUTS.timestep, "float32", ["timesteps"]);
  const context = g.input(UNET_INPUTS.encoderHiddenStates, "float32", ["batch", "sequence", config.crossAttentionDim[0]!]);

  // 1. time
  const batch = g.op("Shape", [sample], { start: 0, end: 1 }, { name: "batch_size" }); // [1]
  const t = g.unsqueeze(g.expand(timestep, batch, "timestep/broadcast"), [1]); // [B, 1]
  const tProj = sinusoid(g, t, ch0, config, "time_proj"); // [B, ch0]
  debug(tProj, "time_proj");
  let emb = timestepEmbedding(net, tProj, "time_embedding"); // [B, T]
  debug(emb, "time_embedding");
  if (config.addition !== undefined) {
    const textEmbeds = g.input(UNET_INPUTS.textEmbeds, "float32", ["batch", "pooled"]);
    const timeIds = g.input(UNET_INPUTS.timeIds, "float32", ["batch", "time_ids"]);
    const timeProj = sinusoid(g, g.unsqueeze(timeIds, [2]), config.addition.timeEmbedDim, config, "add_time_proj"); // [B, K, e]
    const timeEmbeds = g.reshape(timeProj, [0, -1], "add_time_proj/flatten"); // [B, K·e]
    debug(timeEmbeds, "add_time_proj");
    const aug = timestepEmbedding(net, g.concat([textEmbeds, timeEmbeds], -1, "add_embeds"), "add_embedding"); // [B, T]
    debug(aug, "add_embedding");
    emb = g.add(emb, aug, { name: "emb" });
  }
  const tembAct = g.silu(emb, "temb_act"); // [B, T]: every resnet applies SiLU to temb first

  // 2. pre-process
  if (config.centerInputSample) sample = g.sub(g.mul(sample, 2), 1);
  let h = conv2d(net, sample, "conv_in"); // [B, ch0, H, W]
  debug(h, "conv_in");
  const resnet = { groups: config.normNumGroups, eps: config.normEps, outScale: config.resnetOutScaleFactor };
  const transformer = (x: Value, prefix: string, tp: TransformerPlan): Value =>
    spatialTransformer(net, x, context, prefix, {
      heads: tp.heads,
      depth: tp.depth,
      groups: config.normNumGroups,
      useLinearProjection: config.useLinearProjection,
    });

  // 3. down
  const skips: Value[] = [h];
  for (const block of plan.down) {
    block.layers.forEach((layer, j) => {
      h = resnetBlock(net, h, tembAct, `${block.prefix}.resnets.${j}`, resnet); // [B, C, H', W']
      if (layer.transformer !== undefined) h = transformer(h, `${block.prefix}.attentions.${j}`, layer.transformer);
      skips.push(h);
    });
    if (block.resample === "down") {
      h = downsample(net, h, `${block.prefix}.downsamplers.0`, config.downsamplePadding === 0 ? 0 : 1); // [B, C, H'/2, W'/2]
      skips.push(h);
    }
    debug(h, block.prefix);
  }

  // 4. mid
  if (plan.mid !== undefined) {
    const mid = { ...resnet, outScale: config.midBlockScaleFactor };
    plan.mid.layers.forEach((layer, j) => {
      h = resnetBlock(net, h, tembAct, `mid_block.resnets.${j}`, mid);
      if (layer.transformer !== undefined) h = transformer(h, `mid_block.attentions.${j}`, layer.transformer);
    });
    debug(h, "mid_block");
  }

  // 5. up
  for (const block of plan.up) {
    block.layers.forEach((layer, j) => {
      const skip = skips.pop();
      if (skip === undefined) throw new Error("unet: ran out of skip connections");
      h = g.concat([h, skip], 1, `${block.prefix}.resnets.${j}/skip`); // [B, C + Cskip, H', W']
      h = resnetBlock(net, h, tembAct, `${block.prefix}.resnets.${j}`, resnet); // [B, Cout, H', W']
      if (layer.transformer !== undefined) h = transformer(h, `${block.prefix}.attentions.${j}`, layer.transformer);
    });
    if (block.resample === "up") h = upsample(net, h, `${block.prefix}.upsamplers.0`, skips[skips.length - 1]); // [B, C, 2H', 2W']
    debug(h, block.prefix);
  }

  // 6. post-process
  h = groupNorm(net, h, "conv_norm_out", config.normNumGroups, config.normEps); // [B, ch0, H, W]
  debug(h, "conv_norm_out");
  const out = conv2d(net, g.silu(h), "conv_out"); // [B, Cout, H, W]
  debug(out, "conv_out");
  g.output(out, UNET_OUTPUT, "float32", ["batch", config.outChannels, "height", "width"]);
  return g.build();
}
