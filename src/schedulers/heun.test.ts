// Heun, v-prediction, derived by hand: Euler predictor, then the corrector averages both derivatives.
import { describe, expect, it } from "vitest";
import { float32 } from "../tensor/tensor.js";
import type { SchedulerConfig } from "./types.js";
import { heun } from "./heun.js";
const SD: SchedulerConfig = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: "scaled_linear", steps_offset: 1, clip_sample: false, set_alpha_to_one: false, skip_prk_steps: true, prediction_type: "v_prediction" };
const fixed = (vals: number[]) => ({ randn: (s: readonly number[]) => float32(s, vals.slice(0, s.reduce((a, b) => a * b, 1))) });
const close = (a: ArrayLike<number>, b: number[]) => b.forEach((v, k) => expect(a[k]).toBeCloseTo(v, 4));
const x = [0.5, -1.2];
const v = [0.3, 0.7];
const z = [0.8, -0.4];
const x0Sigma = (s: number, xs: number[], vs: number[]) => xs.map((xi, k) => vs[k]! * (-s / Math.sqrt(s * s + 1)) + xi / (s * s + 1));

describe("heun v_prediction", () => {
  it("predictor + corrector over one interval", () => {
    const s = heun(SD, 2);
    const [s0, s1] = [s.sigmas![0]!, s.sigmas![1]!];
    const x0 = x0Sigma(s0, x, v);
    const d0 = x.map((xi, k) => (xi - x0[k]!) / s0);
    const x1 = x.map((xi, k) => xi + d0[k]! * (s1 - s0));
    const first = s.step(float32([2], v), 0, float32([2], x), fixed(z));
    close(first.prevSample.data, x1);
    const v1 = [-0.2, 0.1];
    const x0b = x0Sigma(s1, x1, v1);
    const d1 = x1.map((xi, k) => (xi - x0b[k]!) / s1);
    const second = s.step(float32([2], v1), 1, first.prevSample, fixed(z));
    close(second.prevSample.data, x.map((xi, k) => xi + ((d0[k]! + d1[k]!) / 2) * (s1 - s0)));
  });
});
