// DDPM, v-prediction, derived by hand from the posterior mean and the fixed_small variance.
import { describe, expect, it } from "vitest";
import { float32 } from "../tensor/tensor.js";
import { alphasCumprod } from "./schedule.js";
import type { SchedulerConfig } from "./types.js";
import { ddpm } from "./ddpm.js";
const SD: SchedulerConfig = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: "scaled_linear", steps_offset: 1, clip_sample: false, set_alpha_to_one: false, skip_prk_steps: true, prediction_type: "v_prediction" };
const fixed = (vals: number[]) => ({ randn: (s: readonly number[]) => float32(s, vals.slice(0, s.reduce((a, b) => a * b, 1))) });
const close = (a: ArrayLike<number>, b: number[]) => b.forEach((v, k) => expect(a[k]).toBeCloseTo(v, 4));
const x = [0.5, -1.2];
const v = [0.3, 0.7];
const z = [0.8, -0.4];
const ac = alphasCumprod({ numTrainTimesteps: 1000, betaStart: 0.00085, betaEnd: 0.012, betaSchedule: "scaled_linear" });

describe("ddpm v_prediction", () => {
  it("one step with noise", () => {
    const s = ddpm(SD, 2);
    const t = s.timesteps[0]!;
    const [a, ap] = [ac[t]!, ac[t - 500]!];
    const alphaT = a / ap;
    const betaT = 1 - alphaT;
    const x0 = x.map((xi, k) => Math.sqrt(a) * xi - Math.sqrt(1 - a) * v[k]!);
    const std = Math.sqrt(((1 - ap) / (1 - a)) * betaT);
    const want = x0.map((p, k) => ((Math.sqrt(ap) * betaT) / (1 - a)) * p + ((Math.sqrt(alphaT) * (1 - ap)) / (1 - a)) * x[k]! + std * z[k]!);
    const out = s.step(float32([2], v), 0, float32([2], x), fixed(z));
    close(out.predOriginalSample!.data, x0);
    close(out.prevSample.data, want);
  });
});
