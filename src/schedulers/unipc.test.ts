// Unit tests for UniPC. Expected values are hand-derived in doubles from diffusers 0.27.2 `UniPCMultistepScheduler`
// (convert_model_output with predict_x0, multistep_uni_p_bh_update / multistep_uni_c_bh_update, bh2).
import { describe, expect, it } from "vitest";
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import { solveLinear, unipc } from "./unipc.js";
import type { SchedulerConfig } from "./types.js";

const SD15: SchedulerConfig = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: "scaled_linear" };
const ramp = (n: number, a: number, b: number): Float32Tensor => float32([1, n], Float32Array.from({ length: n }, (_, i) => a + b * i));
const noNoise = { randn: (): Float32Tensor => { throw new Error("drew noise"); } };
const vp = (s: number) => { const alpha = 1 / Math.sqrt(s * s + 1); return { alpha, sigma: s * alpha, lambda: Math.log(alpha) - Math.log(s * alpha) }; };

describe("unipc", () => {
  it("solveLinear solves a small dense system", () => {
    const x = solveLinear([[0, 2, 1], [1, 1, 1], [2, 1, 3]], [7, 6, 13]);
    [1, 2, 3].forEach((v, i) => expect(x[i]).toBeCloseTo(v, 12));
  });

  it("non-Karras schedule ends at sigma_min, Karras repeats its last sigma", () => {
    const s = unipc({ ...SD15 }, 4);
    expect(s.sigmas!.length).toBe(5);
    expect(s.sigmas![4]).toBeGreaterThan(0);
    const k = unipc({ ...SD15, use_karras_sigmas: true }, 4);
    expect(k.sigmas![4]).toBe(k.sigmas![3]);
  });

  it("v_prediction, 2 steps: UniP order 1, then UniC order 1 (ρ = 0.5) and UniP order 1 at the last step", () => {
    const s = unipc({ ...SD15, prediction_type: "v_prediction" }, 2);
    const g = [0, 1, 2].map((k) => vp(s.sigmas![k]!));
    const x = ramp(4, 0.5, 0.4);
    const v0 = ramp(4, 0.1, -0.2);
    const v1 = ramp(4, -0.3, 0.1);
    const m0 = [...x.data].map((xi, k) => g[0]!.alpha * xi - g[0]!.sigma * v0.data[k]!);
    const h1 = g[1]!.lambda - g[0]!.lambda;
    // UniP order 1: x_t = (σ_t/σ_s)·x − α_t·expm1(−h)·m0
    const x1 = [...x.data].map((xi, k) => (g[1]!.sigma / g[0]!.sigma) * xi - g[1]!.alpha * Math.expm1(-h1) * m0[k]!);
    const out0 = s.step(v0, 0, x, noNoise);
    out0.prevSample.data.forEach((v, k) => expect(v).toBeCloseTo(x1[k]!, 5));
    // step 1: corrector with the new x0 at σ1: x_c = (σ1/σ0)·x − α1·expm1(−h)·m0 − α1·B(h)·0.5·(mt − m0), B = expm1(−h)
    const xin = [...out0.prevSample.data];
    const mt = xin.map((xi, k) => g[1]!.alpha * xi - g[1]!.sigma * v1.data[k]!);
    const xc = [...x.data].map((xi, k) => x1[k]! - g[1]!.alpha * Math.expm1(-h1) * 0.5 * (mt[k]! - m0[k]!) + 0 * xi);
    // predictor at the last step: lower_order_final → order min(2, 1) = 1, from σ1 to σ2
    const h2 = g[2]!.lambda - g[1]!.lambda;
    const want = xc.map((xi, k) => (g[2]!.sigma / g[1]!.sigma) * xi - g[2]!.alpha * Math.expm1(-h2) * mt[k]!);
    const out1 = s.step(v1, 1, out0.prevSample, noNoise);
    out1.prevSample.data.forEach((v, k) => expect(v).toBeCloseTo(want[k]!, 5));
  });

  it("disable_corrector skips UniC after the listed step", () => {
    const a = unipc({ ...SD15, disable_corrector: [0] }, 3);
    const b = unipc({ ...SD15 }, 3);
    const x = ramp(3, 1, 1);
    const e0 = ramp(3, 0.1, 0.1);
    const e1 = ramp(3, -0.4, 0.3); // a different epsilon, so the new x0 differs and UniC has something to correct
    const xa = a.step(e0, 0, x, noNoise).prevSample;
    const xb = b.step(e0, 0, x, noNoise).prevSample;
    expect([...xa.data]).toEqual([...xb.data]);
    expect([...a.step(e1, 1, xa, noNoise).prevSample.data]).not.toEqual([...b.step(e1, 1, xb, noNoise).prevSample.data]);
  });
});
