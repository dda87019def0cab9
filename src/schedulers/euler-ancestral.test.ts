// Euler a, v-prediction: expected values derived by hand from diffusers' formulas (no v-prediction golden exists).
import { describe, expect, it } from "vitest";
import { float32 } from "../tensor/tensor.js";
import type { SchedulerConfig } from "./types.js";
import { eulerAncestral } from "./euler-ancestral.js";
const SD: SchedulerConfig = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: "scaled_linear", steps_offset: 1, clip_sample: false, set_alpha_to_one: false, skip_prk_steps: true, prediction_type: "v_prediction" };
const fixed = (vals: number[]) => ({ randn: (s: readonly number[]) => float32(s, vals.slice(0, s.reduce((a, b) => a * b, 1))) });
const close = (a: ArrayLike<number>, b: number[]) => b.forEach((v, k) => expect(a[k]).toBeCloseTo(v, 4));
const x = [0.5, -1.2];
const v = [0.3, 0.7];
const z = [0.8, -0.4];
const x0Sigma = (s: number, xs: number[], vs: number[]) => xs.map((xi, k) => vs[k]! * (-s / Math.sqrt(s * s + 1)) + xi / (s * s + 1));

describe("eulerAncestral v_prediction", () => {
  it("steps to σ_down then adds σ_up·z", () => {
    const s = eulerAncestral(SD, 2);
    const [s0, s1] = [s.sigmas![0]!, s.sigmas![1]!];
    const up = Math.sqrt((s1 * s1 * (s0 * s0 - s1 * s1)) / (s0 * s0));
    const down = Math.sqrt(s1 * s1 - up * up);
    const x0 = x0Sigma(s0, x, v);
    const out = s.step(float32([2], v), 0, float32([2], x), fixed(z));
    close(out.predOriginalSample!.data, x0);
    close(out.prevSample.data, x.map((xi, k) => xi + ((xi - x0[k]!) / s0) * (down - s0) + z[k]! * up));
  });
  it("the last step (σ_next = 0) returns x0", () => {
    const s = eulerAncestral(SD, 2);
    const out = s.step(float32([2], v), 1, float32([2], x), fixed(z));
    close(out.prevSample.data, x0Sigma(s.sigmas![1]!, x, v));
  });
});
