// Blocks against direct JS computations of what torch does, on small tensors with in-memory weights.
import { describe, expect, it } from "vitest";
import { memoryWeight, WeightMap, type WeightRef } from "../checkpoint/weights.js";
import { GraphBuilder, type Value } from "../graph/index.js";
import { createSession } from "../runtime/index.js";
import { float32, type Tensor } from "../tensor/tensor.js";
import { downsample, groupNorm, upsample, type Net } from "./blocks.js";

function weights(entries: Record<string, Tensor>): WeightMap {
  const refs = new Map<string, WeightRef>();
  for (const [k, t] of Object.entries(entries)) refs.set(k, memoryWeight(k, t));
  return new WeightMap(refs);
}

async function run(net: (n: Net, x: Value, y: Value) => Value, w: WeightMap, x: Tensor, y: Tensor = x): Promise<Tensor> {
  const g = new GraphBuilder("test");
  const xi = g.input("x", "float32", x.shape);
  const yi = g.input("y", "float32", y.shape);
  g.output(net({ g, weights: w }, xi, yi), "out");
  const session = await createSession(g.build());
  try {
    return (await session.run({ x, y }))["out"]!;
  } finally {
    await session.release();
  }
}

const ramp = (shape: number[]): Tensor => float32(shape, new Float32Array(shape.reduce((a, b) => a * b)).map((_, i) => Math.sin(i * 0.7) * 3));

describe("groupNorm", () => {
  it("normalises per (sample, group) with biased variance, then scales per channel", async () => {
    const x = ramp([2, 4, 3, 3]);
    const gamma = float32([4], [1, 2, 0.5, -1]);
    const beta = float32([4], [0, 1, -1, 0.25]);
    const out = await run((n, xi) => groupNorm(n, xi, "gn", 2, 1e-5), weights({ "gn.weight": gamma, "gn.bias": beta }), x);
    const d = x.data as Float32Array;
    const o = out.data as Float32Array;
    for (let b = 0; b < 2; b++) {
      for (let grp = 0; grp < 2; grp++) {
        const start = b * 36 + grp * 18;
        const vals = Array.from(d.subarray(start, start + 18));
        const mean = vals.reduce((a, v) => a + v, 0) / 18;
        const variance = vals.reduce((a, v) => a + (v - mean) ** 2, 0) / 18;
        for (let i = 0; i < 18; i++) {
          const c = grp * 2 + Math.floor(i / 9);
          const want = ((vals[i]! - mean) / Math.sqrt(variance + 1e-5)) * gamma.data[c]! + beta.data[c]!;
          expect(o[start + i]).toBeCloseTo(want, 5);
        }
      }
    }
  });
});

describe("upsample / downsample", () => {
  const identityConv = (c: number): Record<string, Tensor> => {
    const wgt = new Float32Array(c * c * 9);
    for (let i = 0; i < c; i++) wgt[(i * c + i) * 9 + 4] = 1; // centre tap: conv is the identity
    return { "up.conv.weight": float32([c, c, 3, 3], wgt), "up.conv.bias": float32([c]) };
  };

  it("resizes to the skip tensor's size with torch's nearest rule src = floor(dst · in / out)", async () => {
    const x = ramp([1, 2, 5, 7]);
    const skip = float32([1, 1, 9, 13]);
    const out = await run((n, xi, yi) => upsample(n, xi, "up", yi), weights(identityConv(2)), x, skip);
    expect(out.shape).toEqual([1, 2, 9, 13]);
    const o = out.data as Float32Array;
    for (let c = 0; c < 2; c++)
      for (let i = 0; i < 9; i++)
        for (let j = 0; j < 13; j++) {
          const si = Math.floor((i * 5) / 9);
          const sj = Math.floor((j * 7) / 13);
          expect(o[(c * 9 + i) * 13 + j]).toBeCloseTo(x.data[(c * 5 + si) * 7 + sj] as number, 6);
        }
  });

  it("VAE downsampling pads only bottom/right (F.pad (0,1,0,1)) before a stride-2 conv", async () => {
    const x = ramp([1, 1, 4, 4]);
    const wgt = float32([1, 1, 3, 3], [0, 0, 0, 0, 0, 0, 0, 0, 1]); // picks input (2i + 2, 2j + 2)
    const w = weights({ "d.conv.weight": wgt, "d.conv.bias": float32([1]) });
    const out = await run((n, xi) => downsample(n, xi, "d", 0), w, x);
    expect(out.shape).toEqual([1, 1, 2, 2]);
    const at = (i: number, j: number): number => (i < 4 && j < 4 ? (x.data[i * 4 + j] as number) : 0);
    expect(Array.from(out.data as Float32Array)).toEqual([at(2, 2), at(2, 4), at(4, 2), at(4, 4)].map(Math.fround));
  });
});
