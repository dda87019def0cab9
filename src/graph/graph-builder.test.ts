// The helpers' numerics against plain JS references, run through ONNX Runtime.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { memoryWeight } from "../checkpoint/weights.js";
import { createSession } from "../runtime/index.js";
import { bfloat16ToFloat, float32, tensor, type Tensor } from "../tensor/tensor.js";
import { GraphBuilder, type Value } from "./index.js";

beforeAll(() => {
  process.env["VELLUM_CACHE_DIR"] = mkdtempSync(join(tmpdir(), "vellum-graph-"));
});

const seq = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));
const rand = (n: number, seed: number) => seq(n, (i) => Math.sin(i * 12.9898 + seed * 78.233) * 1.7);

/** Builds a one-input one-output graph and runs it. */
async function run1(shape: number[], data: Float32Array, body: (g: GraphBuilder, x: Value) => Value): Promise<Tensor> {
  const g = new GraphBuilder();
  g.output(body(g, g.input("x", "float32", shape)), "y");
  const s = await createSession(g.build(), { threads: 1 });
  const out = (await s.run({ x: float32(shape, data) }))["y"]!;
  await s.release();
  return out;
}

function expectNear(actual: Tensor, want: ArrayLike<number>, tol = 1e-5): void {
  const a = actual.data as Float32Array;
  expect(a.length).toBe(want.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - want[i]!));
  expect(max).toBeLessThan(tol);
}

describe("GraphBuilder helpers", () => {
  it("groupNorm matches mean/variance per group followed by the channel affine", async () => {
    const [B, C, H, W, G] = [2, 6, 3, 2, 3];
    const x = rand(B * C * H * W, 1);
    const scale = rand(C, 2);
    const bias = rand(C, 3);
    const y = await run1([B, C, H, W], x, (g, v) =>
      g.groupNorm(v, G, g.weight(memoryWeight("gn.weight", float32([C], scale))), g.weight(memoryWeight("gn.bias", float32([C], bias))), 1e-5),
    );
    const per = (C / G) * H * W;
    const want = new Float64Array(x.length);
    for (let b = 0; b < B; b++) {
      for (let gi = 0; gi < G; gi++) {
        const start = (b * G + gi) * per;
        let mean = 0;
        for (let i = 0; i < per; i++) mean += x[start + i]!;
        mean /= per;
        let v = 0;
        for (let i = 0; i < per; i++) v += (x[start + i]! - mean) ** 2;
        v /= per;
        for (let i = 0; i < per; i++) {
          const c = gi * (C / G) + Math.floor(i / (H * W));
          want[start + i] = ((x[start + i]! - mean) / Math.sqrt(v + 1e-5)) * scale[c]! + bias[c]!;
        }
      }
    }
    expect(y.shape).toEqual([B, C, H, W]);
    expectNear(y, want);
  });

  it("conv2d with padding and stride matches a direct convolution", async () => {
    const [B, Ci, Co, H, W, K] = [1, 2, 3, 5, 4, 3];
    const x = rand(B * Ci * H * W, 4);
    const w = rand(Co * Ci * K * K, 5);
    const b = rand(Co, 6);
    const y = await run1([B, Ci, H, W], x, (g, v) =>
      g.conv2d(v, g.weight(memoryWeight("c.weight", float32([Co, Ci, K, K], w))), g.weight(memoryWeight("c.bias", float32([Co], b))), { pads: 1, strides: 2 }),
    );
    const Ho = Math.floor((H + 2 - K) / 2) + 1;
    const Wo = Math.floor((W + 2 - K) / 2) + 1;
    const want: number[] = [];
    for (let o = 0; o < Co; o++)
      for (let i = 0; i < Ho; i++)
        for (let j = 0; j < Wo; j++) {
          let s = b[o]!;
          for (let c = 0; c < Ci; c++)
            for (let ki = 0; ki < K; ki++)
              for (let kj = 0; kj < K; kj++) {
                const yi = i * 2 - 1 + ki;
                const xj = j * 2 - 1 + kj;
                if (yi < 0 || yi >= H || xj < 0 || xj >= W) continue;
                s += x[(c * H + yi) * W + xj]! * w[((o * Ci + c) * K + ki) * K + kj]!;
              }
          want.push(s);
        }
    expect(y.shape).toEqual([B, Co, Ho, Wo]);
    expectNear(y, want);
  });

  it("resizeNearest repeats each pixel factor × factor times", async () => {
    const y = await run1([1, 1, 2, 2], float32([4], [1, 2, 3, 4]).data, (g, v) => g.resizeNearest(v, 2));
    expect([...(y.data as Float32Array)]).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  });

  it("gelu, quickGelu and silu match their formulas", async () => {
    const x = seq(9, (i) => i - 4.3);
    const erf = (z: number) => {
      // Abramowitz–Stegun 7.1.26 is too coarse; integrate the series instead (|z| < 5 here)
      let sum = 0;
      let term = z;
      for (let n = 0; n < 200; n++) {
        sum += term / (2 * n + 1);
        term *= (-z * z) / (n + 1);
      }
      return (2 / Math.sqrt(Math.PI)) * sum;
    };
    const sig = (z: number) => 1 / (1 + Math.exp(-z));
    expectNear(await run1([9], x, (g, v) => g.gelu(v)), [...x].map((z) => 0.5 * z * (1 + erf(z / Math.SQRT2))));
    expectNear(await run1([9], x, (g, v) => g.quickGelu(v)), [...x].map((z) => z * sig(1.702 * z)));
    expectNear(await run1([9], x, (g, v) => g.silu(v)), [...x].map((z) => z * sig(z)));
  });

  it("attention with a causal mask matches a per-head reference", async () => {
    const [L, N, D] = [4, 2, 3];
    const x = rand(L * N * D, 7);
    const y = await run1([1, L, N * D], x, (g, v) => {
      const mask = g.constant(float32([L, L], seq(L * L, (i) => (i % L > Math.floor(i / L) ? -1e9 : 0))));
      return g.attention(g.mul(v, 0.5), v, g.mul(v, 2), { heads: N, scale: D ** -0.5, mask });
    });
    const want = new Float64Array(L * N * D);
    for (let h = 0; h < N; h++)
      for (let i = 0; i < L; i++) {
        const s: number[] = [];
        for (let j = 0; j <= i; j++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += 0.5 * x[i * N * D + h * D + d]! * D ** -0.5 * x[j * N * D + h * D + d]!;
          s.push(dot);
        }
        const m = Math.max(...s);
        const e = s.map((v) => Math.exp(v - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let d = 0; d < D; d++) {
          let acc = 0;
          for (let j = 0; j <= i; j++) acc += (e[j]! / z) * 2 * x[j * N * D + h * D + d]!;
          want[i * N * D + h * D + d] = acc;
        }
      }
    expect(y.shape).toEqual([1, L, N * D]);
    expectNear(y, want);
  });

  it("casts bfloat16 weights to float32", async () => {
    const bits = Uint16Array.from([0x3f80, 0xc040, 0x3e20]); // 1, -3, 0.15625
    const y = await run1([3], seq(3, () => 1), (g, v) => g.mul(v, g.weight(memoryWeight("bf", tensor("bfloat16", [3], bits)))));
    expect([...(y.data as Float32Array)]).toEqual([...bits].map(bfloat16ToFloat));
  });
});
