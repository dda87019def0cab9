// LMS, v-prediction, derived by hand: the first step has order 1, coefficient ∫σ0→σ1 dτ = σ1 − σ0 (an Euler step).
import { describe, expect, it } from "vitest";
import { float32 } from "../tensor/tensor.js";
import type { SchedulerConfig } from "./types.js";
import { lms, lmsCoefficient } from "./lms.js";
const SD: SchedulerConfig = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: "scaled_linear", steps_offset: 1, clip_sample: false, set_alpha_to_one: false, skip_prk_steps: true, prediction_type: "v_prediction" };
const fixed = (vals: number[]) => ({ randn: (s: readonly number[]) => float32(s, vals.slice(0, s.reduce((a, b) => a * b, 1))) });
const close = (a: ArrayLike<number>, b: number[]) => b.forEach((v, k) => expect(a[k]).toBeCloseTo(v, 4));
const x = [0.5, -1.2];
const v = [0.3, 0.7];
const z = [0.8, -0.4];
const x0Sigma = (s: number, xs: number[], vs: number[]) => xs.map((xi, k) => vs[k]! * (-s / Math.sqrt(s * s + 1)) + xi / (s * s + 1));

describe("lms v_prediction", () => {
  it("first step is an Euler step on the v-converted x0", () => {
    const s = lms(SD, 3);
    const [s0, s1] = [s.sigmas![0]!, s.sigmas![1]!];
    const x0 = x0Sigma(s0, x, v);
    const out = s.step(float32([2], v), 0, float32([2], x), fixed(z));
    close(out.prevSample.data, x.map((xi, k) => xi + ((xi - x0[k]!) / s0) * (s1 - s0)));
  });
  it("order-2 coefficients integrate the Lagrange basis exactly", () => {
    const sig = [3, 2, 1, 0];
    // nodes σ1 = 2 (current) and σ0 = 3; basis for node σ1: (τ − 3)/(2 − 3); ∫_2^1 = [−(τ−3)²/2]_2^1 = −2 + 0.5
    expect(lmsCoefficient(sig, 2, 1, 0)).toBeCloseTo(-1.5, 12);
    expect(lmsCoefficient(sig, 2, 1, 1)).toBeCloseTo(0.5, 12);
  });
});
