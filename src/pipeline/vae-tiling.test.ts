// Tiled VAE decode/encode on the golden tiny SD1 VAE. Expectations come from running the same sessions on each
// tile's crop in the test and applying diffusers' definition (blend_v, blend_h, crop, concatenate) in float64 here.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectClose, goldenPath } from "../../test/helpers/golden.js";
import { loadComponentFolder } from "../checkpoint/model.js";
import { latentsImageToRgb } from "../image/index.js";
import type { SafetensorsFile } from "../checkpoint/safetensors.js";
import { buildVAEDecoderGraph, buildVAEEncoderGraph, vaeConfigFromJson, VAE_DECODER_INPUT, VAE_DECODER_OUTPUT, VAE_ENCODER_INPUT, VAE_ENCODER_OUTPUTS } from "../models/vae.js";
import { createGenerator } from "../rng/index.js";
import { createSession, type Session } from "../runtime/index.js";
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import type { Pipeline } from "./pipeline.js";
import { decodeLatents } from "./text-to-image.js";
import { decodeTiled, decodeVAE, encodeTiled, encodeVAE, shouldTile, tileStarts } from "./vae-tiling.js";

const files: SafetensorsFile[] = [];
let decoder: Session;
let encoder: Session;
let f: number;
let scalingFactor: number;

beforeAll(async () => {
  const c = loadComponentFolder(goldenPath("diffusion", "models/vae_sd1"), files);
  if (c === undefined) throw new Error("no golden vae_sd1");
  const config = vaeConfigFromJson(c.config);
  f = 2 ** (config.blockOutChannels.length - 1);
  scalingFactor = config.scalingFactor;
  decoder = await createSession(buildVAEDecoderGraph(config, c.weights));
  encoder = await createSession(buildVAEEncoderGraph(config, c.weights));
});
afterAll(async () => {
  await decoder?.release();
  await encoder?.release();
  for (const file of files) file.close();
});

const randn = (shape: number[], seed: bigint): Float32Tensor => createGenerator("cpu", seed).randn(shape) as Float32Tensor;

/** [C, H, W] planes of one batch item, in float64 for the reference blend. */
interface Grid {
  c: number;
  h: number;
  w: number;
  v: Float64Array;
}
const at = (g: Grid, c: number, y: number, x: number): number => g.v[(c * g.h + y) * g.w + x]!;

function cropOf(t: Float32Tensor, y0: number, x0: number, h: number, w: number): Float32Tensor {
  const [, C, H, W] = t.shape as number[] as [number, number, number, number];
  const out = new Float32Array(C * h * w);
  for (let c = 0; c < C; c++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[(c * h + y) * w + x] = t.data[(c * H + y0 + y) * W + x0 + x]!;
  return float32([1, C, h, w], out);
}

function grid(t: Float32Tensor): Grid {
  const [, c, h, w] = t.shape as number[] as [number, number, number, number];
  return { c, h, w, v: Float64Array.from(t.data) };
}

/** Each tile of the input run alone through `run` (what the tiled path must reproduce tile by tile). */
async function tilesOf(input: Float32Tensor, tile: number, stride: number, run: (x: Float32Tensor) => Promise<Float32Tensor>): Promise<Grid[][]> {
  const [, , H, W] = input.shape as number[] as [number, number, number, number];
  const rows: Grid[][] = [];
  for (let i = 0; i < H; i += stride) {
    const row: Grid[] = [];
    for (let j = 0; j < W; j += stride) row.push(grid(await run(cropOf(input, i, j, Math.min(tile, H - i), Math.min(tile, W - j)))));
    rows.push(row);
  }
  return rows;
}

/** diffusers' tiled_decode after the tile runs, literally: in-place blend_v then blend_h, crop [:keep, :keep], cat. */
function referenceStitch(tiles: Grid[][], extent: number, keep: number): Grid {
  const rows = tiles.map((r) => r.map((t) => ({ ...t, v: t.v.slice() })));
  for (const [i, row] of rows.entries()) {
    for (const [j, b] of row.entries()) {
      if (i > 0) {
        const a = rows[i - 1]![j]!;
        const e = Math.min(a.h, b.h, extent);
        for (let y = 0; y < e; y++) for (let c = 0; c < b.c; c++) for (let x = 0; x < b.w; x++) b.v[(c * b.h + y) * b.w + x] = at(a, c, a.h - e + y, x) * (1 - y / e) + at(b, c, y, x) * (y / e);
      }
      if (j > 0) {
        const a = row[j - 1]!;
        const e = Math.min(a.w, b.w, extent);
        for (let x = 0; x < e; x++) for (let c = 0; c < b.c; c++) for (let y = 0; y < b.h; y++) b.v[(c * b.h + y) * b.w + x] = at(a, c, y, a.w - e + x) * (1 - x / e) + at(b, c, y, x) * (x / e);
      }
    }
  }
  const heights = rows.map((r) => Math.min(keep, r[0]!.h));
  const widths = rows[0]!.map((t) => Math.min(keep, t.w));
  const H = heights.reduce((s, v) => s + v, 0), W = widths.reduce((s, v) => s + v, 0), C = rows[0]![0]!.c;
  const out: Grid = { c: C, h: H, w: W, v: new Float64Array(C * H * W) };
  for (const [i, row] of rows.entries()) {
    for (const [j, t] of row.entries()) {
      for (let c = 0; c < C; c++) for (let y = 0; y < heights[i]!; y++) for (let x = 0; x < widths[j]!; x++) out.v[(c * H + i * keep + y) * W + j * keep + x] = at(t, c, y, x);
    }
  }
  return out;
}

const decodeWhole = async (z: Float32Tensor): Promise<Float32Tensor> => (await decoder.run({ [VAE_DECODER_INPUT]: z }))[VAE_DECODER_OUTPUT] as Float32Tensor;

describe("shouldTile", () => {
  it("auto tiles only latents above 96 × 96 cells (images above 768 × 768 px)", () => {
    expect(shouldTile("auto", 64, 64)).toBe(false);
    expect(shouldTile("auto", 96, 96)).toBe(false);
    expect(shouldTile("auto", 128, 72)).toBe(false); // 1024 × 576: 9216 cells
    expect(shouldTile("auto", 128, 96)).toBe(true);
    expect(shouldTile("auto", 128, 128)).toBe(true);
    expect(shouldTile("auto", 400, 16, 64)).toBe(false); // larger than one tile but not in area
  });
  it("on tiles whatever exceeds one tile; off never tiles", () => {
    expect(shouldTile("on", 64, 64)).toBe(false);
    expect(shouldTile("on", 65, 8)).toBe(true);
    expect(shouldTile("on", 20, 30, 16)).toBe(true);
    expect(shouldTile("off", 512, 512)).toBe(false);
  });
  it("tile starts are range(0, size, stride)", () => {
    expect(tileStarts(32, 12)).toEqual([0, 12, 24]);
    expect(tileStarts(24, 12)).toEqual([0, 12]);
  });
});

describe("decodeTiled", () => {
  it("is bit-identical to the untiled decode when the latent fits in one tile", async () => {
    const z = randn([1, 4, 32, 48], 1n);
    const whole = await decodeWhole(z);
    expect((await decodeTiled(decoder, z, { tileSize: 48, scaleFactor: f })).data).toEqual(whole.data);
    expect((await decodeVAE(decoder, z, { mode: "on", scaleFactor: f })).data).toEqual(whole.data); // default tile 64
  });

  it("auto leaves latents up to 96 × 96 untouched even with small tiles; on tiles them", async () => {
    const z = randn([1, 4, 32, 48], 2n);
    const whole = await decodeWhole(z);
    expect((await decodeVAE(decoder, z, { mode: "auto", tileSize: 16, scaleFactor: f })).data).toEqual(whole.data);
    expect((await decodeVAE(decoder, z, { mode: "off", tileSize: 16, scaleFactor: f })).data).toEqual(whole.data);
    const tiled = await decodeVAE(decoder, z, { mode: "on", tileSize: 16, scaleFactor: f });
    expect(tiled.shape).toEqual(whole.shape);
    expect(tiled.data).not.toEqual(whole.data);
  });

  it("32 × 48 latent, tile 16, overlap 0.25: tile interiors equal each tile's own decode, seams are linear mixes", async () => {
    const z = randn([1, 4, 32, 48], 3n);
    const out = grid(await decodeTiled(decoder, z, { tileSize: 16, overlap: 0.25, scaleFactor: f }));
    expect([out.c, out.h, out.w]).toEqual([3, 32 * f, 48 * f]);
    const stride = 12, extent = Math.trunc(16 * f * 0.25), keep = 16 * f - extent; // 12 cells; 32 px ramps; 96 px kept
    const tiles = await tilesOf(z, 16, stride, decodeWhole);
    expect([tiles.length, tiles[0]!.length]).toEqual([3, 4]);
    let interior = 0, seams = 0;
    for (const [i, row] of tiles.entries()) {
      for (const [j, t] of row.entries()) {
        const y0 = i > 0 ? extent : 0, x0 = j > 0 ? extent : 0;
        const h = Math.min(keep, t.h), w = Math.min(keep, t.w);
        for (let c = 0; c < 3; c++) {
          // Far from seams: exactly the tile's own decode.
          for (let y = y0; y < h; y++) for (let x = x0; x < w; x++, interior++) if (at(out, c, i * keep + y, j * keep + x) !== at(t, c, y, x)) expect.fail(`interior (${i},${j}) c${c} y${y} x${x}`);
          // Left seam below any top ramp: (1 − x/e)·left + (x/e)·this, the left tile read at its last e columns.
          if (j > 0) {
            const a = row[j - 1]!, e = Math.min(a.w, t.w, extent);
            for (let y = y0; y < h; y++) {
              for (let x = 0; x < e; x++, seams++) {
                const want = at(a, c, y, a.w - e + x) * (1 - x / e) + at(t, c, y, x) * (x / e);
                if (Math.abs(at(out, c, i * keep + y, j * keep + x) - want) > 1e-6) expect.fail(`left seam (${i},${j}) c${c} y${y} x${x}`);
              }
            }
          }
          // Top seam right of any left ramp.
          if (i > 0) {
            const a = tiles[i - 1]![j]!, e = Math.min(a.h, t.h, extent);
            for (let y = 0; y < e; y++) {
              for (let x = x0; x < w; x++, seams++) {
                const want = at(a, c, a.h - e + y, x) * (1 - y / e) + at(t, c, y, x) * (y / e);
                if (Math.abs(at(out, c, i * keep + y, j * keep + x) - want) > 1e-6) expect.fail(`top seam (${i},${j}) c${c} y${y} x${x}`);
              }
            }
          }
        }
      }
    }
    expect(interior).toBeGreaterThan(0);
    expect(seams).toBeGreaterThan(0);
    // Corners (three or four tiles) and everything else: diffusers' full definition.
    expectClose(out.v, referenceStitch(tiles, extent, keep).v, { atol: 1e-6, label: "tiled decode vs reference" });
  });

  it.each([
    [20, 30],
    [17, 25], // last tiles 5 and 1 cells: ramps shorter than the overlap
  ])("crops to the untiled shape for a %i × %i latent (sides not multiples of the stride)", async (h, w) => {
    const z = randn([1, 4, h, w], 4n);
    const out = await decodeTiled(decoder, z, { tileSize: 16, scaleFactor: f });
    expect(out.shape).toEqual([1, 3, h * f, w * f]);
    const extent = Math.trunc(16 * f * 0.25);
    expectClose(out.data, referenceStitch(await tilesOf(z, 16, 12, decodeWhole), extent, 16 * f - extent).v, { atol: 1e-6, label: `${h}×${w}` });
  });

  it("decodes a batch item by item", async () => {
    const a = randn([1, 4, 20, 30], 5n), b = randn([1, 4, 20, 30], 6n);
    const both = float32([2, 4, 20, 30], Float32Array.from([...a.data, ...b.data]));
    const out = await decodeTiled(decoder, both, { tileSize: 16, scaleFactor: f });
    const one = await decodeTiled(decoder, a, { tileSize: 16, scaleFactor: f });
    const two = await decodeTiled(decoder, b, { tileSize: 16, scaleFactor: f });
    expect(out.shape).toEqual([2, 3, 20 * f, 30 * f]);
    expect(out.data).toEqual(Float32Array.from([...one.data, ...two.data]));
  });

  it("refuses tile/overlap pairs whose crops would not cover the image", async () => {
    await expect(decodeTiled(decoder, randn([1, 4, 32, 32], 7n), { tileSize: 10, overlap: 0.25, scaleFactor: f })).rejects.toThrow(/does not tile evenly/);
    await expect(decodeTiled(decoder, randn([1, 4, 32, 32], 7n), { tileSize: 16, overlap: 1 })).rejects.toThrow(/overlap/);
  });
});

describe("decodeLatents", () => {
  it("decodes with the request's vaeTiling: auto = off below 96 × 96 cells, on tiles a latent over 64 cells", async () => {
    // Only the members decodeLatents reads.
    const pipeline = { vaeConfig: { scalingFactor }, vaeScaleFactor: f, vaeDecoder: () => Promise.resolve(decoder) } as unknown as Pipeline;
    const latents = randn([1, 4, 66, 20], 10n); // taller than one 64-cell tile
    const off = await decodeLatents(pipeline, latents, "off");
    const auto = await decodeLatents(pipeline, latents);
    const on = await decodeLatents(pipeline, latents, "on");
    expect(auto.np.data).toEqual(off.np.data);
    expect([on.height, on.width]).toEqual([66 * f, 20 * f]);
    const z = float32(latents.shape, latents.data.map((v) => v / Math.fround(scalingFactor)));
    expect(on.np.data).toEqual(latentsImageToRgb(await decodeTiled(decoder, z, { scaleFactor: f })).np.data);
    expect(off.np.data).toEqual(latentsImageToRgb(await decodeWhole(z)).np.data);
    expect(on.np.data).not.toEqual(off.np.data);
  });
});

describe("encodeTiled", () => {
  const encodeWhole = async (x: Float32Tensor) => {
    const out = await encoder.run({ [VAE_ENCODER_INPUT]: x });
    return { mean: out[VAE_ENCODER_OUTPUTS.mean] as Float32Tensor, logvar: out[VAE_ENCODER_OUTPUTS.logvar] as Float32Tensor };
  };

  it("is the untiled encode when the image fits in one tile, and under auto up to 768 × 768", async () => {
    const x = randn([1, 3, 128, 192], 8n);
    const whole = await encodeWhole(x);
    const one = await encodeTiled(encoder, x, { tileSize: 24, scaleFactor: f });
    expect(one.mean.data).toEqual(whole.mean.data);
    expect(one.logvar.data).toEqual(whole.logvar.data);
    expect((await encodeVAE(encoder, x, { mode: "auto", tileSize: 8, scaleFactor: f })).mean.data).toEqual(whole.mean.data);
  });

  it("blends the tiles' mean and logvar as diffusers' tiled_encode; std = exp(logvar / 2)", async () => {
    const x = randn([1, 3, 160, 232], 9n); // latent 20 × 29; tiles of 128 px every 96 px
    const out = await encodeTiled(encoder, x, { tileSize: 16, overlap: 0.25, scaleFactor: f });
    expect(out.mean.shape).toEqual([1, 4, 20, 29]);
    const extent = Math.trunc(16 * 0.25), keep = 16 - extent;
    const means = await tilesOf(x, 16 * f, 96, async (t) => (await encodeWhole(t)).mean);
    const logvars = await tilesOf(x, 16 * f, 96, async (t) => (await encodeWhole(t)).logvar);
    expectClose(out.mean.data, referenceStitch(means, extent, keep).v, { atol: 1e-6, label: "mean" });
    const logvar = referenceStitch(logvars, extent, keep).v;
    expectClose(out.logvar.data, logvar, { atol: 1e-6, label: "logvar" });
    expectClose(out.std.data, logvar.map((v) => Math.exp(v / 2)), { atol: 1e-5, rtol: 1e-6, label: "std" });
    // The first tile's interior is its own encode exactly.
    const first = means[0]![0]!;
    for (let y = 0; y < keep; y++) for (let x2 = 0; x2 < keep; x2++) expect(out.mean.data[y * 29 + x2]).toBe(at(first, 0, y, x2));
  });
});
