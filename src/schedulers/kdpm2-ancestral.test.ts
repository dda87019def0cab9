// KDPM2 a, v-prediction, derived by hand: midpoint between σ0 and σ_down, full step to σ_down, plus σ_up·z.
import { describe, expect, it } from "vitest";
import { float32 } from "../tensor/tensor.js";
import type { SchedulerConfig } from "./types.js";
import { kdpm2Ancestral } from "./kdpm2-ancestral.js";
const SD: SchedulerConfig = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: "scaled_linear", steps_offset: 1, clip_sample: false, set_alpha_to_one: false, skip_prk_steps: true, prediction_type: "v_prediction" };
const fixed = (vals: number[]) => ({ randn: (s: readonly number[]) => float32(s, vals.slice(0, s.reduce((a, b) => a * b, 1))) });
const close = (a: ArrayLike<number>, b: number[]) => b.forEach((v, k) => expect(a[k]).toBeCloseTo(v, 4));
const x = [0.5, -1.2];
const v = [0.3, 0.7];
const z = [0.8, -0.4];
const x0Sigma = (s: number, xs: number[], vs: number[]) => xs.map((xi, k) => vs[k]! * (-s / Math.sqrt(s * s + 1)) + xi / (s * s + 1));

describe("kdpm2Ancestral v_prediction", () => {
  it("midpoint step towards σ_down with ancestral noise on the second call", () => {
    const s = kdpm2Ancestral(SD, 2);
    const [s0, s1] = [s.sigmas![0]!, s.sigmas![1]!];
    // σ_up and σ_down are float32 tensors in diffusers and σ_down = √(σ1² − σ_up²) cancels badly when σ1 ≪ σ0,
    // so they are derived with float32 rounding at each operation, as diffusers computes them.
    const f = Math.fround;
    const up = f(Math.sqrt(f(f(f(s1 * s1) * f(f(s0 * s0) - f(s1 * s1))) / f(s0 * s0))));
    const down = f(Math.sqrt(f(f(s1 * s1) - f(up * up))));
    const mid = Math.sqrt(s0 * down);
    const x0 = x0Sigma(s0, x, v);
    const xm = x.map((xi, k) => xi + ((xi - x0[k]!) / s0) * (mid - s0));
    const first = s.step(float32([2], v), 0, float32([2], x), fixed([NaN, NaN]));
    close(first.prevSample.data, xm);
    const v1 = [-0.2, 0.1];
    const x0m = x0Sigma(mid, xm, v1);
    const second = s.step(float32([2], v1), 1, first.prevSample, fixed(z));
    close(second.prevSample.data, x.map((xi, k) => xi + ((xm[k]! - x0m[k]!) / mid) * (down - s0) + z[k]! * up));
  });
});
