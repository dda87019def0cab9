// Unit tests for DEIS. Expected values are hand-derived in doubles from diffusers 0.27.2 `DEISMultistepScheduler`
// (convert_model_output re-deriving epsilon from x0, deis_first_order_update).
import { describe, expect, it } from "vitest";
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import { deis } from "./deis.js";
import type { SchedulerConfig } from "./types.js";

const SD15: SchedulerConfig = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: "scaled_linear" };
const ramp = (n: number, a: number, b: number): Float32Tensor => float32([1, n], Float32Array.from({ length: n }, (_, i) => a + b * i));
const noNoise = { randn: (): Float32Tensor => { throw new Error("drew noise"); } };
const vp = (s: number) => { const alpha = 1 / Math.sqrt(s * s + 1); return { alpha, sigma: s * alpha, lambda: Math.log(alpha) - Math.log(s * alpha) }; };

describe("deis", () => {
  it("v_prediction, 1 step: ε = (x − α·x0)/σ with x0 = α·x − σ·v, then x_t = (α_t/α_s)·x − σ_t(e^h − 1)·ε", () => {
    const s = deis({ ...SD15, prediction_type: "v_prediction" }, 1);
    const a = vp(s.sigmas![0]!), b = vp(s.sigmas![1]!);
    const x = ramp(5, -0.8, 0.4);
    const v = ramp(5, 0.6, -0.25);
    const h = b.lambda - a.lambda;
    const want = [...x.data].map((xi, k) => {
      const x0 = a.alpha * xi - a.sigma * v.data[k]!;
      const eps = (xi - a.alpha * x0) / a.sigma;
      return (b.alpha / a.alpha) * xi - b.sigma * (Math.exp(h) - 1) * eps;
    });
    s.step(v, 0, x, noNoise).prevSample.data.forEach((val, k) => expect(val).toBeCloseTo(want[k]!, 5));
  });

  it("with epsilon prediction, the second order update is exact for a constant epsilon (log-rho weights sum to the integral)", () => {
    // For ε constant, DEIS-2 reduces to the exact exponential integrator: x_t = α_t·(x/α_s + (ρ_t − ρ_s)·ε).
    const s = deis({ ...SD15 }, 6);
    const e = ramp(3, 0.3, 0.1);
    let x = ramp(3, 1, -0.5);
    x = s.step(e, 0, x, noNoise).prevSample;
    const a = vp(s.sigmas![1]!), b = vp(s.sigmas![2]!);
    const want = [...x.data].map((xi, k) => b.alpha * (xi / a.alpha + (b.sigma / b.alpha - a.sigma / a.alpha) * e.data[k]!));
    s.step(e, 1, x, noNoise).prevSample.data.forEach((val, k) => expect(val).toBeCloseTo(want[k]!, 4));
  });
});
