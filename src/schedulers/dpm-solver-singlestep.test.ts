// Unit tests for DPM-Solver++ singlestep. Expected values are hand-derived in doubles from diffusers 0.27.2
// `DPMSolverSinglestepScheduler` (get_order_list, set_timesteps' lower_order_final rule, the update formulas).
import { describe, expect, it } from "vitest";
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import { dpmSolverSinglestep, dpmSolverSinglestepConfig, singlestepOrders } from "./dpm-solver-singlestep.js";
import type { SchedulerConfig } from "./types.js";

const SD15: SchedulerConfig = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: "scaled_linear" };
const ramp = (n: number, a: number, b: number): Float32Tensor => float32([1, n], Float32Array.from({ length: n }, (_, i) => a + b * i));
const noNoise = { randn: (): Float32Tensor => { throw new Error("drew noise"); } };
const vp = (s: number) => { const alpha = 1 / Math.sqrt(s * s + 1); return { alpha, sigma: s * alpha, lambda: Math.log(alpha) - Math.log(s * alpha) }; };

describe("dpmSolverSinglestep", () => {
  it("order lists follow get_order_list", () => {
    expect(singlestepOrders(4, 2, true)).toEqual([1, 2, 1, 1]);
    expect(singlestepOrders(5, 2, true)).toEqual([1, 2, 1, 2, 1]);
    expect(singlestepOrders(1, 2, true)).toEqual([1]);
    expect(singlestepOrders(6, 3, true)).toEqual([1, 2, 3, 1, 2, 1]);
    expect(singlestepOrders(7, 3, true)).toEqual([1, 2, 3, 1, 2, 3, 1]);
    expect(singlestepOrders(8, 3, true)).toEqual([1, 2, 3, 1, 2, 3, 1, 2]);
    expect(singlestepOrders(4, 2, false)).toEqual([1, 2, 1, 2]);
  });

  it("set_timesteps forces lower_order_final for uneven steps and for final_sigmas_type zero", () => {
    expect(dpmSolverSinglestepConfig({ ...SD15 }, 4).lowerOrderFinal).toBe(true); // final sigma zero
    expect(dpmSolverSinglestepConfig({ ...SD15, final_sigmas_type: "sigma_min" }, 4).lowerOrderFinal).toBe(false);
    expect(dpmSolverSinglestepConfig({ ...SD15, final_sigmas_type: "sigma_min" }, 5).lowerOrderFinal).toBe(true);
  });

  it("v_prediction: the second sub-step goes from the anchor at σ0 to σ2 with D0 = m1, D1 = (m0 − m1)/r0", () => {
    const s = dpmSolverSinglestep({ ...SD15, prediction_type: "v_prediction" }, 4);
    const [g0, g1, g2] = [0, 1, 2].map((k) => vp(s.sigmas![k]!)) as [ReturnType<typeof vp>, ReturnType<typeof vp>, ReturnType<typeof vp>];
    const x = ramp(4, 1, -0.5);
    const v0 = ramp(4, 0.2, 0.3);
    const v1 = ramp(4, -0.1, 0.05);
    const out0 = s.step(v0, 0, x, noNoise);
    const m1 = [...x.data].map((xi, k) => g0.alpha * xi - g0.sigma * v0.data[k]!);
    const h01 = g1.lambda - g0.lambda;
    const x1 = [...x.data].map((xi, k) => (g1.sigma / g0.sigma) * xi - g1.alpha * (Math.exp(-h01) - 1) * m1[k]!);
    out0.prevSample.data.forEach((v, k) => expect(v).toBeCloseTo(x1[k]!, 5));
    const out1 = s.step(v1, 1, out0.prevSample, noNoise);
    const m0 = [...out0.prevSample.data].map((xi, k) => g1.alpha * xi - g1.sigma * v1.data[k]!);
    const h = g2.lambda - g0.lambda;
    const r0 = (g1.lambda - g0.lambda) / h;
    const want = [...x.data].map((xi, k) => {
      const D1 = (m0[k]! - m1[k]!) / r0;
      return (g2.sigma / g0.sigma) * xi - g2.alpha * (Math.exp(-h) - 1) * m1[k]! - 0.5 * g2.alpha * (Math.exp(-h) - 1) * D1;
    });
    out1.prevSample.data.forEach((v, k) => expect(v).toBeCloseTo(want[k]!, 5));
  });

  it("has no timestep_spacing: always linspace over the training range", () => {
    const a = dpmSolverSinglestep({ ...SD15, timestep_spacing: "leading", steps_offset: 1 }, 4);
    const b = dpmSolverSinglestep({ ...SD15 }, 4);
    expect(a.timesteps).toEqual(b.timesteps);
  });
});
