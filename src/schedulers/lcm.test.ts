// LCM, v-prediction, derived by hand: consistency boundary condition on x0 = √ᾱ·x − √(1−ᾱ)·v, then re-noising.
import { describe, expect, it } from "vitest";
import { float32 } from "../tensor/tensor.js";
import { alphasCumprod } from "./schedule.js";
import type { SchedulerConfig } from "./types.js";
import { lcm } from "./lcm.js";
const SD: SchedulerConfig = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: "scaled_linear", steps_offset: 1, clip_sample: false, set_alpha_to_one: false, skip_prk_steps: true, prediction_type: "v_prediction" };
const fixed = (vals: number[]) => ({ randn: (s: readonly number[]) => float32(s, vals.slice(0, s.reduce((a, b) => a * b, 1))) });
const close = (a: ArrayLike<number>, b: number[]) => b.forEach((v, k) => expect(a[k]).toBeCloseTo(v, 4));
const x = [0.5, -1.2];
const v = [0.3, 0.7];
const z = [0.8, -0.4];
const ac = alphasCumprod({ numTrainTimesteps: 1000, betaStart: 0.00085, betaEnd: 0.012, betaSchedule: "scaled_linear" });

describe("lcm v_prediction", () => {
  it("one step with re-noising", () => {
    const s = lcm(SD, 2);
    expect(s.timesteps).toEqual([999, 499]);
    const [a, ap] = [ac[999]!, ac[499]!];
    const st = 999 * 10;
    const cSkip = 0.25 / (st * st + 0.25);
    const cOut = st / Math.sqrt(st * st + 0.25);
    const x0 = x.map((xi, k) => Math.sqrt(a) * xi - Math.sqrt(1 - a) * v[k]!);
    const den = x0.map((p, k) => cOut * p + cSkip * x[k]!);
    const out = s.step(float32([2], v), 0, float32([2], x), fixed(z));
    close(out.predOriginalSample!.data, den);
    close(out.prevSample.data, den.map((d, k) => Math.sqrt(ap) * d + Math.sqrt(1 - ap) * z[k]!));
  });
});
