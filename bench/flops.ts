// FLOPs of one forward, counted from the configs: convolutions, linear layers and attention (q·kᵀ and p·v).
// One multiply-add = 2 FLOPs. Norms, activations and element-wise ops are left out (< 1 % at SD sizes).
import type { ClipTextConfig } from "../src/models/clip-text.js";
import { unetPlan, type UNetConfig } from "../src/models/unet.js";
import type { VAEConfig } from "../src/models/vae.js";

/** k×k convolution from cin to cout channels with an output of `pixels` positions. */
export const convFlops = (cin: number, cout: number, k: number, pixels: number): number => 2 * cin * cout * k * k * pixels;
/** Linear layer over `tokens` rows. */
export const linearFlops = (din: number, dout: number, tokens: number): number => 2 * din * dout * tokens;
/** Scores q·kᵀ plus p·v for all heads: inner = heads · head_dim. */
export const attentionCoreFlops = (lq: number, lk: number, inner: number): number => 4 * lq * lk * inner;

function resnetFlops(cin: number, cout: number, pixels: number, tembDim: number): number {
  const shortcut = cin === cout ? 0 : convFlops(cin, cout, 1, pixels);
  return convFlops(cin, cout, 3, pixels) + convFlops(cout, cout, 3, pixels) + shortcut + (tembDim > 0 ? linearFlops(tembDim, cout, 1) : 0);
}

/** Transformer2DModel: proj_in/out, then per block self-attention, cross-attention and a GEGLU feed-forward. */
function transformerFlops(c: number, pixels: number, depth: number, contextDim: number, contextTokens: number): number {
  const selfAttn = linearFlops(c, 3 * c, pixels) + attentionCoreFlops(pixels, pixels, c) + linearFlops(c, c, pixels);
  const crossAttn = linearFlops(c, c, pixels) + linearFlops(contextDim, 2 * c, contextTokens) + attentionCoreFlops(pixels, contextTokens, c) + linearFlops(c, c, pixels);
  const ff = linearFlops(c, 8 * c, pixels) + linearFlops(4 * c, c, pixels);
  return 2 * linearFlops(c, c, pixels) + depth * (selfAttn + crossAttn + ff);
}

export interface UNetShape {
  batch: number;
  /** Latent height and width. */
  height: number;
  width: number;
  /** Text tokens of the context (77 per chunk). */
  contextTokens: number;
}

/** One UNet forward of `batch` samples (a CFG step is batch 2). */
export function unetFlops(config: UNetConfig, s: UNetShape): number {
  const plan = unetPlan(config);
  const t = config.timeEmbeddingDim;
  const ch0 = config.blockOutChannels[0]!;
  const px = (level: number): number => Math.ceil(s.height / 2 ** level) * Math.ceil(s.width / 2 ** level);
  let f = linearFlops(ch0, t, 1) + linearFlops(t, t, 1);
  if (config.addition !== undefined) f += linearFlops(config.addition.inputDim, t, 1) + linearFlops(t, t, 1);
  f += convFlops(config.inChannels, ch0, config.convInKernel, px(0));
  const n = plan.down.length;
  const block = (layers: typeof plan.down[number]["layers"], level: number): number =>
    layers.reduce((sum, l) => {
      const c = l.outChannels;
      const tr = l.transformer === undefined ? 0 : transformerFlops(c, px(level), l.transformer.depth, l.transformer.contextDim, s.contextTokens);
      return sum + resnetFlops(l.inChannels + l.skipChannels, c, px(level), t) + tr;
    }, 0);
  plan.down.forEach((b, i) => {
    f += block(b.layers, i);
    if (b.resample === "down") f += convFlops(b.layers.at(-1)!.outChannels, b.layers.at(-1)!.outChannels, 3, px(i + 1));
  });
  if (plan.mid !== undefined) f += block(plan.mid.layers, n - 1);
  plan.up.forEach((b, i) => {
    const level = n - 1 - i;
    f += block(b.layers, level);
    if (b.resample === "up") f += convFlops(b.layers.at(-1)!.outChannels, b.layers.at(-1)!.outChannels, 3, px(level - 1));
  });
  f += convFlops(ch0, config.outChannels, config.convOutKernel, px(0));
  return s.batch * f;
}

/** post_quant_conv + Decoder for latents of height × width (image = latents × 2^(levels − 1)). */
export function vaeDecoderFlops(config: VAEConfig, s: { batch: number; height: number; width: number }): number {
  const ch = [...config.blockOutChannels].reverse();
  const levels = ch.length;
  let pixels = s.height * s.width;
  let f = config.usePostQuantConv ? convFlops(config.latentChannels, config.latentChannels, 1, pixels) : 0;
  f += convFlops(config.latentChannels, ch[0]!, 3, pixels);
  f += 2 * resnetFlops(ch[0]!, ch[0]!, pixels, 0);
  if (config.midBlockAddAttention) f += linearFlops(ch[0]!, 4 * ch[0]!, pixels) + attentionCoreFlops(pixels, pixels, ch[0]!);
  let c = ch[0]!;
  for (let i = 0; i < levels; i++) {
    for (let j = 0; j <= config.layersPerBlock; j++) {
      f += resnetFlops(c, ch[i]!, pixels, 0);
      c = ch[i]!;
    }
    if (i < levels - 1) {
      pixels *= 4;
      f += convFlops(c, c, 3, pixels);
    }
  }
  f += convFlops(c, config.outChannels, 3, pixels);
  return s.batch * f;
}

/** CLIP text transformer over `tokens` tokens per sequence, `batch` sequences. */
export function clipTextFlops(config: ClipTextConfig, s: { batch: number; tokens: number }): number {
  const w = config.hiddenSize;
  const layer = linearFlops(w, 4 * w, s.tokens) + attentionCoreFlops(s.tokens, s.tokens, w) + linearFlops(w, config.intermediateSize, s.tokens) + linearFlops(config.intermediateSize, w, s.tokens);
  return s.batch * config.numHiddenLayers * layer;
}
