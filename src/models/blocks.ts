// Building blocks shared by the UNet and the VAE, as diffusers 0.27.2 computes them: ResnetBlock2D,
// Transformer2DModel (spatial transformer with self/cross attention and a GEGLU feed-forward), the VAE's
// single-head mid-block attention, Downsample2D and Upsample2D. Every weight is read by its diffusers key.
// Tensors are NCHW; token sequences are [B, N, C].
import type { WeightSource } from "../checkpoint/weights.js";
import type { GraphBuilder, Value } from "../graph/index.js";

/** A graph under construction plus the weights its nodes read. */
export interface Net {
  readonly g: GraphBuilder;
  readonly weights: WeightSource;
}

// ---------------------------------------------------------------------------------------------------------------
// Weight-reading wrappers over the builder's typed ops

export function w(net: Net, key: string): Value {
  return net.g.weight(net.weights.get(key));
}

function optional(net: Net, key: string): Value | undefined {
  return net.weights.has(key) ? w(net, key) : undefined;
}

/** `Shape(x)[start:end]` as an int64 vector. */
export function shapeOf(net: Net, x: Value, start?: number, end?: number): Value {
  return net.g.op("Shape", [x], { start, end }, { name: "shape" });
}

/** Conv2d with `<prefix>.weight` / `<prefix>.bias`; "same" padding for odd kernels unless `pads` ([t, l, b, r]) is given. */
export function conv2d(net: Net, x: Value, prefix: string, opts: { stride?: number; pads?: readonly [number, number, number, number] } = {}): Value {
  const weight = net.weights.get(`${prefix}.weight`);
  const p = ((weight.shape[2] ?? 1) - 1) / 2;
  return net.g.conv2d(x, net.g.weight(weight), optional(net, `${prefix}.bias`), { pads: opts.pads ?? p, strides: opts.stride ?? 1, name: prefix });
}

/** torch Linear over the last axis. A [out, in, 1, 1] weight (LDM 1×1-conv layout) is accepted. */
export function linear(net: Net, x: Value, prefix: string): Value {
  const ref = net.weights.get(`${prefix}.weight`);
  let weight = net.g.weight(ref);
  if (ref.shape.length === 4) weight = net.g.reshape(weight, [ref.shape[0]!, ref.shape[1]!], `${prefix}/as_linear`); // [out, in]
  return net.g.linear(x, weight, optional(net, `${prefix}.bias`), prefix);
}

export function groupNorm(net: Net, x: Value, prefix: string, groups: number, eps: number): Value {
  return net.g.groupNorm(x, groups, w(net, `${prefix}.weight`), w(net, `${prefix}.bias`), eps, prefix);
}

export function layerNorm(net: Net, x: Value, prefix: string, eps: number): Value {
  return net.g.layerNorm(x, w(net, `${prefix}.weight`), w(net, `${prefix}.bias`), eps, prefix);
}

/** [B, C, H, W] → [B, H·W, C] */
export function toTokens(net: Net, x: Value): Value {
  return net.g.transpose(net.g.reshape(x, [0, 0, -1]), [0, 2, 1]); // [B, HW, C]
}

/** [B, H·W, C] → NCHW with `shape4` (the Shape of the original image tensor). */
export function fromTokens(net: Net, x: Value, shape4: Value): Value {
  return net.g.reshape(net.g.transpose(x, [0, 2, 1]), shape4); // [B, C, H, W]
}

// ---------------------------------------------------------------------------------------------------------------
// Attention

export interface AttentionNames {
  readonly q: string;
  readonly k: string;
  readonly v: string;
  readonly out: string;
}

export const ATTENTION_NAMES: AttentionNames = { q: "to_q", k: "to_k", v: "to_v", out: "to_out.0" };
/** Pre-0.14 diffusers VAE attention keys. */
export const LEGACY_ATTENTION_NAMES: AttentionNames = { q: "query", k: "key", v: "value", out: "proj_attn" };

/**
 * diffusers `Attention` (AttnProcessor2_0): q, k, v projections, softmax(q·kᵀ / √d)·v per head, then `to_out.0`.
 * `context` undefined → self-attention. x [B, N, C], context [B, M, D] → [B, N, C].
 */
export function attention(net: Net, x: Value, context: Value | undefined, prefix: string, heads: number, names = ATTENTION_NAMES): Value {
  const kv = context ?? x;
  const inner = net.weights.get(`${prefix}.${names.q}.weight`).shape[0]!;
  const q = linear(net, x, `${prefix}.${names.q}`); // [B, N, inner]
  const k = linear(net, kv, `${prefix}.${names.k}`); // [B, M, inner]
  const v = linear(net, kv, `${prefix}.${names.v}`); // [B, M, inner]
  const o = net.g.attention(q, k, v, { heads, scale: 1 / Math.sqrt(inner / heads), name: prefix }); // [B, N, inner]
  return linear(net, o, `${prefix}.${names.out}`); // [B, N, C]
}

// ---------------------------------------------------------------------------------------------------------------
// Blocks

export interface ResnetOptions {
  readonly groups: number;
  readonly eps: number;
  /** `output_scale_factor`: (shortcut + h) / factor. */
  readonly outScale?: number;
}

/**
 * ResnetBlock2D ("default" time-scale-shift): GN → SiLU → conv1 (+ time_emb_proj(SiLU(temb))) → GN → SiLU → conv2,
 * plus the input (through the 1×1 `conv_shortcut` when channels change). `tembAct` is SiLU(temb) [B, T] or undefined.
 */
export function resnetBlock(net: Net, x: Value, tembAct: Value | undefined, prefix: string, opts: ResnetOptions): Value {
  const g = net.g;
  let h = conv2d(net, g.silu(groupNorm(net, x, `${prefix}.norm1`, opts.groups, opts.eps)), `${prefix}.conv1`); // [B, Cout, H, W]
  if (tembAct !== undefined) {
    h = g.add(h, g.unsqueeze(linear(net, tembAct, `${prefix}.time_emb_proj`), [2, 3])); // + [B, Cout, 1, 1]
  }
  h = conv2d(net, g.silu(groupNorm(net, h, `${prefix}.norm2`, opts.groups, opts.eps)), `${prefix}.conv2`); // [B, Cout, H, W]
  const shortcut = net.weights.has(`${prefix}.conv_shortcut.weight`) ? conv2d(net, x, `${prefix}.conv_shortcut`, { pads: [0, 0, 0, 0] }) : x;
  const sum = g.add(shortcut, h, { name: `${prefix}/residual` });
  const scale = opts.outScale ?? 1;
  return scale === 1 ? sum : g.div(sum, scale);
}

/** Downsample2D with a conv, stride 2: `padding` 1 (UNet) or 0 with a (0,1,0,1) zero pad (VAE encoder). */
export function downsample(net: Net, x: Value, prefix: string, padding: 0 | 1): Value {
  const pads: [number, number, number, number] = padding === 1 ? [1, 1, 1, 1] : [0, 0, 1, 1];
  return conv2d(net, x, `${prefix}.conv`, { stride: 2, pads }); // [B, C, H/2, W/2]
}

/**
 * Upsample2D: nearest-neighbour ×2, or to the H, W of `sizeLike` (diffusers' `upsample_size`, which matters when a
 * side is not a multiple of the UNet's total factor), then a 3×3 conv.
 */
export function upsample(net: Net, x: Value, prefix: string, sizeLike?: Value): Value {
  const g = net.g;
  let up: Value;
  if (sizeLike === undefined) {
    up = g.resizeNearest(x, 2, `${prefix}/nearest`); // [B, C, 2H, 2W]
  } else {
    const sizes = g.concat([shapeOf(net, x, 0, 2), shapeOf(net, sizeLike, 2, 4)], 0);
    const attrs = { mode: "nearest", coordinate_transformation_mode: "asymmetric", nearest_mode: "floor" };
    up = g.op("Resize", [x, undefined, undefined, sizes], attrs, { name: `${prefix}/nearest` }); // [B, C, H', W']
  }
  return conv2d(net, up, `${prefix}.conv`);
}

export interface TransformerOptions {
  readonly heads: number;
  readonly depth: number;
  readonly groups: number;
  readonly useLinearProjection: boolean;
}

/**
 * Transformer2DModel over continuous input: GroupNorm(eps 1e-6) → proj_in (1×1 conv before flattening, or linear
 * after) → `depth` BasicTransformerBlocks → proj_out → + input. x [B, C, H, W], context [B, S, D].
 */
export function spatialTransformer(net: Net, x: Value, context: Value, prefix: string, opts: TransformerOptions): Value {
  const shape4 = shapeOf(net, x);
  const normed = groupNorm(net, x, `${prefix}.norm`, opts.groups, 1e-6);
  let h = opts.useLinearProjection
    ? linear(net, toTokens(net, normed), `${prefix}.proj_in`) // [B, HW, C]
    : toTokens(net, conv2d(net, normed, `${prefix}.proj_in`, { pads: [0, 0, 0, 0] })); // [B, HW, C]
  for (let i = 0; i < opts.depth; i++) h = transformerBlock(net, h, context, `${prefix}.transformer_blocks.${i}`, opts.heads);
  const out = opts.useLinearProjection
    ? fromTokens(net, linear(net, h, `${prefix}.proj_out`), shape4) // [B, C, H, W]
    : conv2d(net, fromTokens(net, h, shape4), `${prefix}.proj_out`, { pads: [0, 0, 0, 0] }); // [B, C, H, W]
  return net.g.add(out, x, { name: `${prefix}/residual` });
}

/** BasicTransformerBlock (layer_norm): self-attention, cross-attention, GEGLU feed-forward, each pre-LN + residual. */
export function transformerBlock(net: Net, x: Value, context: Value, prefix: string, heads: number): Value {
  const g = net.g;
  let h = g.add(attention(net, layerNorm(net, x, `${prefix}.norm1`, 1e-5), undefined, `${prefix}.attn1`, heads), x); // [B, N, C]
  h = g.add(attention(net, layerNorm(net, h, `${prefix}.norm2`, 1e-5), context, `${prefix}.attn2`, heads), h); // [B, N, C]
  return g.add(geglu(net, layerNorm(net, h, `${prefix}.norm3`, 1e-5), `${prefix}.ff`), h); // [B, N, C]
}

/**
 * FeedForward with GEGLU: proj → (hidden, gate) halves → hidden · gelu(gate) → net.2. The proj weight and bias are
 * split into halves (constant-folded once at load) and applied as two linears, so no [B, N, 2·inner] activation is
 * produced and copied by a Split (3 % of a UNet step when split after the matmul).
 */
export function geglu(net: Net, x: Value, prefix: string): Value {
  const g = net.g;
  const proj = `${prefix}.net.0.proj`;
  const ref = net.weights.get(`${proj}.weight`);
  const inner = ref.shape[0]! / 2;
  let weight = g.weight(ref);
  if (ref.shape.length === 4) weight = g.reshape(weight, [ref.shape[0]!, ref.shape[1]!], `${proj}/as_linear`); // [2·inner, C]
  const [wHidden, wGate] = g.split(weight, [inner, inner], 0, `${proj}/weight_halves`) as [Value, Value]; // [inner, C] × 2
  const bias = optional(net, `${proj}.bias`);
  const [bHidden, bGate] = bias === undefined ? [undefined, undefined] : g.split(bias, [inner, inner], 0, `${proj}/bias_halves`); // [inner] × 2
  const hidden = g.linear(x, wHidden, bHidden, `${proj}/hidden`); // [B, N, inner]
  const gate = g.linear(x, wGate, bGate, `${proj}/gate`); // [B, N, inner]
  return linear(net, g.mul(hidden, g.gelu(gate, `${prefix}/gelu`)), `${prefix}.net.2`); // [B, N, C]
}

/**
 * The VAE mid-block attention: GroupNorm(eps 1e-6) → one head over H·W tokens (q, k, v with bias) → + input.
 * Accepts `to_q/to_k/to_v/to_out.0` and the older `query/key/value/proj_attn` keys.
 */
export function vaeAttention(net: Net, x: Value, prefix: string, groups: number): Value {
  const names = net.weights.has(`${prefix}.to_q.weight`) ? ATTENTION_NAMES : LEGACY_ATTENTION_NAMES;
  const shape4 = shapeOf(net, x);
  const tokens = toTokens(net, groupNorm(net, x, `${prefix}.group_norm`, groups, 1e-6)); // [B, HW, C]
  const h = attention(net, tokens, undefined, prefix, 1, names); // [B, HW, C]
  return net.g.add(fromTokens(net, h, shape4), x, { name: `${prefix}/residual` }); // [B, C, H, W]
}
