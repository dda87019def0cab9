// Unit tests for DPM-Solver++ multistep. The expected values are derived by hand, in doubles, from the formulas of
// diffusers 0.27.2 `DPMSolverMultistepScheduler` (convert_model_output, dpm_solver_first_order_update, add_noise);
// no golden exists for v_prediction / sample prediction here.
import { describe, expect, it } from "vitest";
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import { dpmSolverMultistep } from "./dpm-solver-multistep.js";
import type { Noise, SchedulerConfig } from "./types.js";

const SD15: SchedulerConfig = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: "scaled_linear", num_train_timesteps: 1000, steps_offset: 1 };

const ramp = (n: number, a: number, b: number): Float32Tensor => float32([1, n], Float32Array.from({ length: n }, (_, i) => a + b * i));
const noNoise: Noise = { randn: () => { throw new Error("deterministic sampler drew noise"); } };
const vp = (s: number) => { const alpha = 1 / Math.sqrt(s * s + 1); return { alpha, sigma: s * alpha, lambda: Math.log(alpha) - Math.log(s * alpha) }; };

function expectNear(actual: Float32Tensor, expected: number[], tol = 2e-6): void {
  expect(actual.data.length).toBe(expected.length);
  actual.data.forEach((v, i) => expect(Math.abs(v - expected[i]!)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(expected[i]!))));
}

describe("dpmSolverMultistep", () => {
  it("v_prediction, 2 steps: first-order step then the final (sigma 0) step returns x0", () => {
    const s = dpmSolverMultistep({ ...SD15, prediction_type: "v_prediction" }, 2);
    expect(s.sigmas?.length).toBe(3);
    expect(s.sigmas?.[2]).toBe(0);
    const [sg0, sg1] = [s.sigmas![0]!, s.sigmas![1]!];
    const x = ramp(6, -1.5, 0.6);
    const v0 = ramp(6, 0.3, -0.2);
    const v1 = ramp(6, -0.4, 0.15);
    // step 0: x0 = α0·x − σ0·v ; x1 = (σ1/σ0)·x − α1(e^{−h} − 1)·x0, h = λ1 − λ0 (lower_order_nums = 0 → first order)
    const a = vp(sg0), b = vp(sg1);
    const x0 = [...x.data].map((xi, k) => a.alpha * xi - a.sigma * v0.data[k]!);
    const h = b.lambda - a.lambda;
    const x1 = [...x.data].map((xi, k) => (b.sigma / a.sigma) * xi - b.alpha * (Math.exp(-h) - 1) * x0[k]!);
    const out0 = s.step(v0, 0, x, noNoise);
    expectNear(out0.predOriginalSample!, x0);
    expectNear(out0.prevSample, x1);
    // step 1 is the last: final_sigmas_type "zero" forces first order, and σ_t = 0 makes it return x0 = α1·x1 − σ1·v1
    const out1 = s.step(v1, 1, out0.prevSample, noNoise);
    const x1f = [...out0.prevSample.data];
    expectNear(out1.prevSample, x1f.map((xi, k) => b.alpha * xi - b.sigma * v1.data[k]!));
  });

  it("sample prediction: the model output is x0", () => {
    const s = dpmSolverMultistep({ ...SD15, prediction_type: "sample" }, 1);
    const x = ramp(4, 2, -1);
    const m = ramp(4, 0.5, 0.25);
    expectNear(s.step(m, 0, x, noNoise).prevSample, [...m.data]);
  });

  it("second order uses D1 = (m0 − m1)/r0 with the midpoint weights", () => {
    const s = dpmSolverMultistep({ ...SD15 }, 4);
    const x = ramp(3, 1, 0.5);
    const e0 = ramp(3, 0.2, 0.1);
    const e1 = ramp(3, -0.3, 0.2);
    const out0 = s.step(e0, 0, x, noNoise);
    const out1 = s.step(e1, 1, out0.prevSample, noNoise);
    const [g0, g1, g2] = [vp(s.sigmas![0]!), vp(s.sigmas![1]!), vp(s.sigmas![2]!)];
    const xa = [...out0.prevSample.data];
    const m1 = [...x.data].map((xi, k) => (xi - g0.sigma * e0.data[k]!) / g0.alpha);
    const m0 = xa.map((xi, k) => (xi - g1.sigma * e1.data[k]!) / g1.alpha);
    const h = g2.lambda - g1.lambda;
    const r0 = (g1.lambda - g0.lambda) / h;
    const want = xa.map((xi, k) => {
      const D1 = (m0[k]! - m1[k]!) / r0;
      return (g2.sigma / g1.sigma) * xi - g2.alpha * (Math.exp(-h) - 1) * m0[k]! - 0.5 * g2.alpha * (Math.exp(-h) - 1) * D1;
    });
    expectNear(out1.prevSample, want);
  });

  it("sde-dpmsolver++ draws exactly one noise tensor per step, before the update", () => {
    const s = dpmSolverMultistep({ ...SD15, algorithm_type: "sde-dpmsolver++" }, 3);
    let draws = 0;
    const noise: Noise = { randn: (shape) => { draws++; return float32(shape, new Float32Array(shape.reduce((p, d) => p * d, 1)).fill(0.5)); } };
    let x = ramp(2, 1, 1);
    s.timesteps.forEach((_, i) => { x = s.step(ramp(2, 0.1, 0.1), i, x, noise).prevSample; });
    expect(draws).toBe(3);
  });

  it("addNoise = α_t·x + σ_t·noise at the sigma of the given index", () => {
    const s = dpmSolverMultistep({ ...SD15, use_karras_sigmas: true }, 6);
    const x = ramp(5, -1, 0.5);
    const n = ramp(5, 0.7, -0.3);
    const g = vp(s.sigmas![2]!);
    expectNear(s.addNoise(x, n, 2), [...x.data].map((xi, k) => g.alpha * xi + g.sigma * n.data[k]!));
  });

  it("rejects what it does not implement", () => {
    expect(() => dpmSolverMultistep({ ...SD15, thresholding: true }, 4)).toThrow(/thresholding/);
    expect(() => dpmSolverMultistep({ ...SD15, algorithm_type: "sde-dpmsolver++", solver_order: 3 }, 4)).toThrow(/third-order/);
    expect(() => dpmSolverMultistep({ ...SD15, algorithm_type: "dpmsolver" }, 4)).toThrow(/algorithm_type/);
  });

  it("timestep spacings and zero-SNR keep the schedule finite", () => {
    const trailing = dpmSolverMultistep({ ...SD15, timestep_spacing: "trailing", rescale_betas_zero_snr: true }, 4);
    // trailing: np.arange(1000, 0, −250).round() − 1
    expect(trailing.timesteps).toEqual([999, 749, 499, 249]);
    expect(trailing.sigmas!.every((v) => Number.isFinite(v))).toBe(true);
    const leading = dpmSolverMultistep({ ...SD15, timestep_spacing: "leading" }, 4);
    // leading: (arange(0, 5) · (1000 // 5))[::-1][:-1] + steps_offset
    expect(leading.timesteps).toEqual([801, 601, 401, 201]);
  });
});
