// Tiled VAE decode and encode, the algorithm of diffusers' AutoencoderKL.tiled_decode / tiled_encode (v0.27.2):
// the input is cut into overlapping square tiles (stride = tile · (1 − overlap)), each tile runs through the session
// alone (batch 1, one after another, so only one tile's activations exist at a time), then every tile is blended
// into the tile above it and the tile to its left with linear ramps over `overlap · tile` output cells and cropped to
// its top-left `tile − blend` cells; the crops, laid side by side, cover the output exactly.
//
// Blending is in place and in diffusers' order: a tile first takes the ramp from the (already blended) tile above,
// then from the (already blended) tile to its left. Weights are float32, as torch multiplies a float32 tensor by a
// Python float: out = a · fp32(1 − y/e) + b · fp32(y/e), each product and the sum rounded to float32.
import { VAE_DECODER_INPUT, VAE_DECODER_OUTPUT, VAE_ENCODER_INPUT, VAE_ENCODER_OUTPUTS } from "../models/vae.js";
import type { Session } from "../runtime/index.js";
import { float32, type Float32Tensor } from "../tensor/tensor.js";

const fr = Math.fround;

/** off: never tile; on: tile when the latent exceeds one tile (diffusers' enable_tiling); auto: only above AUTO_TILING_MIN_AREA. */
export type VAETilingMode = "auto" | "on" | "off";
export const VAE_TILING_MODES: readonly VAETilingMode[] = ["auto", "on", "off"];

export interface VAETilingConfig {
  /** Tile side in latent cells (diffusers' tile_latent_min_size; 64 = 512 px for SD). */
  readonly tileSize: number;
  /** Share of a tile that overlaps the next one (diffusers' tile_overlap_factor). */
  readonly overlap: number;
  /** Pixels per latent cell: 2^(VAE levels − 1). */
  readonly scaleFactor: number;
}

export const DEFAULT_VAE_TILING: VAETilingConfig = { tileSize: 64, overlap: 0.25, scaleFactor: 8 };

/** auto tiles only latents with more cells than this (96 × 96 = 768 × 768 px), so smaller requests decode unchanged. */
export const AUTO_TILING_MIN_AREA = 96 * 96;

export interface VAETilingOptions extends Partial<VAETilingConfig> {
  /** Default "auto". */
  readonly mode?: VAETilingMode;
}

/** Whether a latent of latentHeight × latentWidth cells is decoded (or its image encoded) in tiles. */
export function shouldTile(mode: VAETilingMode, latentHeight: number, latentWidth: number, tileSize = DEFAULT_VAE_TILING.tileSize): boolean {
  if (mode === "off") return false;
  const exceedsTile = latentHeight > tileSize || latentWidth > tileSize;
  if (mode === "on") return exceedsTile;
  return exceedsTile && latentHeight * latentWidth > AUTO_TILING_MIN_AREA;
}

/** Input tiling and output blending, in input and output cells. */
interface TileGeometry {
  /** Tile side in input cells. */
  inTile: number;
  /** Distance between tile starts in input cells. */
  inStride: number;
  /** Ramp length in output cells. */
  outBlend: number;
  /** Kept (cropped) side of a tile in output cells. */
  outKeep: number;
}

function resolve(opts: Partial<VAETilingConfig>): VAETilingConfig {
  const config = { ...DEFAULT_VAE_TILING, ...opts };
  const { tileSize, overlap, scaleFactor } = config;
  if (!Number.isInteger(tileSize) || tileSize < 1) throw new RangeError(`VAE tiling: tileSize must be a positive integer, got ${tileSize}`);
  if (!(overlap >= 0 && overlap < 1)) throw new RangeError(`VAE tiling: overlap must be in [0, 1), got ${overlap}`);
  if (!Number.isInteger(scaleFactor) || scaleFactor < 1) throw new RangeError(`VAE tiling: scaleFactor must be a positive integer, got ${scaleFactor}`);
  return config;
}

/**
 * diffusers' formulas (Python int() truncates). The crops tile the output only when the kept side equals the stride
 * in output cells; other tile/overlap pairs would give an image of the wrong size, so they are refused.
 */
function geometry(config: VAETilingConfig, direction: "decode" | "encode"): TileGeometry {
  const { tileSize, overlap, scaleFactor: f } = config;
  const sample = tileSize * f;
  const g =
    direction === "decode"
      ? { inTile: tileSize, inStride: Math.trunc(tileSize * (1 - overlap)), outBlend: Math.trunc(sample * overlap), outKeep: 0 }
      : { inTile: sample, inStride: Math.trunc(sample * (1 - overlap)), outBlend: Math.trunc(tileSize * overlap), outKeep: 0 };
  g.outKeep = (direction === "decode" ? sample : tileSize) - g.outBlend;
  const strideOut = direction === "decode" ? g.inStride * f : g.inStride / f;
  if (g.inStride < 1 || g.outKeep !== strideOut) {
    throw new RangeError(`VAE tiling: tile ${tileSize} with overlap ${overlap} does not tile evenly (stride ${g.inStride} ${direction === "decode" ? "cells" : "px"}, kept ${g.outKeep})`);
  }
  return g;
}

/** One batch item's channels-first plane [C, H, W]. */
interface Plane {
  channels: number;
  height: number;
  width: number;
  data: Float32Array;
}

/** b's first rows ← ramp from a's last rows (diffusers' blend_v); a and b have the same width. */
function blendV(a: Plane, b: Plane, extent: number): void {
  const e = Math.min(a.height, b.height, extent);
  for (let y = 0; y < e; y++) {
    const wa = fr(1 - y / e), wb = fr(y / e);
    for (let c = 0; c < b.channels; c++) {
      const rowA = (c * a.height + a.height - e + y) * a.width;
      const rowB = (c * b.height + y) * b.width;
      for (let x = 0; x < b.width; x++) b.data[rowB + x] = fr(fr(a.data[rowA + x]! * wa) + fr(b.data[rowB + x]! * wb));
    }
  }
}

/** b's first columns ← ramp from a's last columns (diffusers' blend_h); a and b have the same height. */
function blendH(a: Plane, b: Plane, extent: number): void {
  const e = Math.min(a.width, b.width, extent);
  for (let x = 0; x < e; x++) {
    const wa = fr(1 - x / e), wb = fr(x / e);
    for (let c = 0; c < b.channels; c++) {
      for (let y = 0; y < b.height; y++) {
        const ia = (c * a.height + y) * a.width + a.width - e + x;
        const ib = (c * b.height + y) * b.width + x;
        b.data[ib] = fr(fr(a.data[ia]! * wa) + fr(b.data[ib]! * wb));
      }
    }
  }
}

/** Tile starts along one side: 0, stride, 2·stride, … while < size (diffusers' range(0, size, stride)). */
export function tileStarts(size: number, stride: number): number[] {
  const starts: number[] = [];
  for (let s = 0; s < size; s += stride) starts.push(s);
  return starts;
}

/**
 * Runs `run` on every tile of an inH × inW input, row by row, and stitches the blended crops into an
 * [C, outH, outW] plane. Only the previous row of tiles is kept.
 */
async function stitch(
  inH: number,
  inW: number,
  outH: number,
  outW: number,
  g: TileGeometry,
  run: (y0: number, x0: number, h: number, w: number) => Promise<Plane>,
): Promise<Plane> {
  let out: Plane | undefined;
  let above: Plane[] = [];
  let filledH = 0, filledW = 0;
  for (const [ri, y0] of tileStarts(inH, g.inStride).entries()) {
    const row: Plane[] = [];
    for (const [ci, x0] of tileStarts(inW, g.inStride).entries()) {
      const tile = await run(y0, x0, Math.min(g.inTile, inH - y0), Math.min(g.inTile, inW - x0));
      if (ri > 0) blendV(above[ci]!, tile, g.outBlend);
      if (ci > 0) blendH(row[ci - 1]!, tile, g.outBlend);
      row.push(tile);
      out ??= { channels: tile.channels, height: outH, width: outW, data: new Float32Array(tile.channels * outH * outW) };
      const oy = ri * g.outKeep, ox = ci * g.outKeep;
      const h = Math.min(g.outKeep, tile.height), w = Math.min(g.outKeep, tile.width);
      if (tile.channels !== out.channels || oy + h > outH || ox + w > outW) {
        throw new Error(`VAE tiling: tile at (${y0}, ${x0}) gives [${tile.channels}, ${tile.height}, ${tile.width}], which does not fit [${out.channels}, ${outH}, ${outW}]`);
      }
      for (let c = 0; c < tile.channels; c++) {
        for (let y = 0; y < h; y++) {
          const src = (c * tile.height + y) * tile.width;
          out.data.set(tile.data.subarray(src, src + w), (c * outH + oy + y) * outW + ox);
        }
      }
      filledH = Math.max(filledH, oy + h);
      filledW = Math.max(filledW, ox + w);
    }
    above = row;
  }
  if (out === undefined || filledH !== outH || filledW !== outW) {
    throw new Error(`VAE tiling: the tiles cover ${filledH} × ${filledW} of a ${outH} × ${outW} output`);
  }
  return out;
}

/** [1, C, h, w] copy of batch item `b`'s window (y0, x0, h, w) of an NCHW tensor. */
function crop(t: Float32Tensor, b: number, y0: number, x0: number, h: number, w: number): Float32Tensor {
  const [, channels, height, width] = t.shape as [number, number, number, number];
  const data = new Float32Array(channels * h * w);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < h; y++) {
      const src = ((b * channels + c) * height + y0 + y) * width + x0;
      data.set(t.data.subarray(src, src + w), (c * h + y) * w);
    }
  }
  return float32([1, channels, h, w], data); // [1, C, h, w]
}

function plane(t: Float32Tensor): Plane {
  const [batch, channels, height, width] = t.shape as [number, number, number, number];
  if (t.shape.length !== 4 || batch !== 1) throw new Error(`VAE tiling: expected a [1, C, H, W] tile output, got [${t.shape.join(", ")}]`);
  return { channels, height, width, data: t.data };
}

function concatPlanes(planes: readonly Plane[]): Float32Tensor {
  const first = planes[0]!;
  const size = first.channels * first.height * first.width;
  const data = new Float32Array(planes.length * size);
  planes.forEach((p, b) => data.set(p.data, b * size));
  return float32([planes.length, first.channels, first.height, first.width], data); // [B, C, H, W]
}

function nchw(t: Float32Tensor, what: string): [number, number, number, number] {
  if (t.shape.length !== 4) throw new RangeError(`VAE tiling: ${what} must be [B, C, H, W], got [${t.shape.join(", ")}]`);
  return t.shape as [number, number, number, number];
}

/**
 * The decoder session on `latents` [B, C, h, w] (already divided by scaling_factor) in overlapping tiles →
 * the decoder's `image` [B, 3, h·f, w·f]. A latent that fits in one tile is decoded whole (bit-identical to untiled).
 */
export async function decodeTiled(decoder: Session, latents: Float32Tensor, opts: Partial<VAETilingConfig> = {}): Promise<Float32Tensor> {
  const config = resolve(opts);
  const [batch, , h, w] = nchw(latents, "latents");
  if (h <= config.tileSize && w <= config.tileSize) return (await decoder.run({ [VAE_DECODER_INPUT]: latents }))[VAE_DECODER_OUTPUT] as Float32Tensor;
  const g = geometry(config, "decode");
  const f = config.scaleFactor;
  const planes: Plane[] = [];
  for (let b = 0; b < batch; b++) {
    planes.push(
      await stitch(h, w, h * f, w * f, g, async (y0, x0, th, tw) => {
        const out = await decoder.run({ [VAE_DECODER_INPUT]: crop(latents, b, y0, x0, th, tw) }); // [1, C, th, tw]
        return plane(out[VAE_DECODER_OUTPUT] as Float32Tensor); // [1, 3, th·f, tw·f]
      }),
    );
  }
  return concatPlanes(planes); // [B, 3, h·f, w·f]
}

export interface EncodedMoments {
  /** Each [B, C, H/f, W/f]. */
  mean: Float32Tensor;
  logvar: Float32Tensor;
  std: Float32Tensor;
}

/**
 * The encoder session on `image` [B, 3, H, W] in overlapping tiles: the tiles' mean and logvar are blended (diffusers
 * blends the quant_conv moments), std = exp(logvar / 2) is recomputed from the blended logvar. Our encoder clamps
 * logvar to [-30, 20] inside each tile, diffusers after blending: they differ only where a tile's logvar leaves that range.
 * An image that fits in one tile is encoded whole.
 */
export async function encodeTiled(encoder: Session, image: Float32Tensor, opts: Partial<VAETilingConfig> = {}): Promise<EncodedMoments> {
  const config = resolve(opts);
  const [batch, , height, width] = nchw(image, "image");
  const f = config.scaleFactor;
  const sample = config.tileSize * f;
  if (height <= sample && width <= sample) return momentsOf(await encoder.run({ [VAE_ENCODER_INPUT]: image }));
  if (height % f !== 0 || width % f !== 0) throw new RangeError(`VAE tiling: image sides must be multiples of ${f}, got ${height} × ${width}`);
  const g = geometry(config, "encode");
  const moments: Plane[] = [];
  for (let b = 0; b < batch; b++) {
    moments.push(
      await stitch(height, width, height / f, width / f, g, async (y0, x0, th, tw) => {
        const out = momentsOf(await encoder.run({ [VAE_ENCODER_INPUT]: crop(image, b, y0, x0, th, tw) }));
        const mean = plane(out.mean), logvar = plane(out.logvar); // [1, C, th/f, tw/f] each
        const data = new Float32Array(mean.data.length * 2);
        data.set(mean.data);
        data.set(logvar.data, mean.data.length);
        return { channels: mean.channels * 2, height: mean.height, width: mean.width, data }; // [2C, th/f, tw/f]
      }),
    );
  }
  const all = concatPlanes(moments); // [B, 2C, H/f, W/f]
  const [, twoC, lh, lw] = all.shape as [number, number, number, number];
  const c = twoC / 2, n = c * lh * lw;
  const mean = new Float32Array(batch * n), logvar = new Float32Array(batch * n), std = new Float32Array(batch * n);
  for (let b = 0; b < batch; b++) {
    mean.set(all.data.subarray(2 * b * n, 2 * b * n + n), b * n);
    logvar.set(all.data.subarray(2 * b * n + n, 2 * (b + 1) * n), b * n);
  }
  for (let k = 0; k < std.length; k++) std[k] = fr(Math.exp(fr(logvar[k]! * 0.5)));
  const shape = [batch, c, lh, lw];
  return { mean: float32(shape, mean), logvar: float32(shape, logvar), std: float32(shape, std) };
}

function momentsOf(out: Record<string, unknown>): EncodedMoments {
  return {
    mean: out[VAE_ENCODER_OUTPUTS.mean] as Float32Tensor,
    logvar: out[VAE_ENCODER_OUTPUTS.logvar] as Float32Tensor,
    std: out[VAE_ENCODER_OUTPUTS.std] as Float32Tensor,
  };
}

/** vae.decode with the tiling policy: tiled when `shouldTile(mode, h, w, tileSize)`, otherwise one decoder run. */
export async function decodeVAE(decoder: Session, latents: Float32Tensor, opts: VAETilingOptions = {}): Promise<Float32Tensor> {
  const [, , h, w] = nchw(latents, "latents");
  const { mode = "auto", ...config } = opts;
  if (!shouldTile(mode, h, w, config.tileSize)) return (await decoder.run({ [VAE_DECODER_INPUT]: latents }))[VAE_DECODER_OUTPUT] as Float32Tensor;
  return decodeTiled(decoder, latents, config);
}

/** vae.encode with the same policy, judged on the latent the image encodes to (H/f × W/f). */
export async function encodeVAE(encoder: Session, image: Float32Tensor, opts: VAETilingOptions = {}): Promise<EncodedMoments> {
  const [, , height, width] = nchw(image, "image");
  const { mode = "auto", ...config } = opts;
  const f = config.scaleFactor ?? DEFAULT_VAE_TILING.scaleFactor;
  if (!shouldTile(mode, Math.ceil(height / f), Math.ceil(width / f), config.tileSize)) return momentsOf(await encoder.run({ [VAE_ENCODER_INPUT]: image }));
  return encodeTiled(encoder, image, config);
}
