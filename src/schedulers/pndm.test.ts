// PNDM (PLMS), v-prediction, derived by hand: first call, ε = √ᾱ·v + √(1−ᾱ)·x through the PNDM transfer formula.
import { describe, expect, it } from "vitest";
import { float32 } from "../tensor/tensor.js";
import { alphasCumprod } from "./schedule.js";
import type { SchedulerConfig } from "./types.js";
import { pndm } from "./pndm.js";
const SD: SchedulerConfig = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: "scaled_linear", steps_offset: 1, clip_sample: false, set_alpha_to_one: false, skip_prk_steps: true, prediction_type: "v_prediction" };
const fixed = (vals: number[]) => ({ randn: (s: readonly number[]) => float32(s, vals.slice(0, s.reduce((a, b) => a * b, 1))) });
const close = (a: ArrayLike<number>, b: number[]) => b.forEach((v, k) => expect(a[k]).toBeCloseTo(v, 4));
const x = [0.5, -1.2];
const v = [0.3, 0.7];
const z = [0.8, -0.4];
const ac = alphasCumprod({ numTrainTimesteps: 1000, betaStart: 0.00085, betaEnd: 0.012, betaSchedule: "scaled_linear" });

describe("pndm v_prediction", () => {
  it("first PLMS call", () => {
    const s = pndm(SD, 2);
    expect(s.timesteps).toEqual([501, 1, 1]);
    const [a, ap] = [ac[501]!, ac[1]!];
    const eps = x.map((xi, k) => Math.sqrt(a) * v[k]! + Math.sqrt(1 - a) * xi);
    const denom = a * Math.sqrt(1 - ap) + Math.sqrt(a * (1 - a) * ap);
    const out = s.step(float32([2], v), 0, float32([2], x), fixed(z));
    close(out.prevSample.data, x.map((xi, k) => Math.sqrt(ap / a) * xi - ((ap - a) * eps[k]!) / denom));
  });
});
