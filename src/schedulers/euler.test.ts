// Euler: v-prediction by hand from diffusers' formulas (no golden has a v-prediction scheduler trajectory), and the
// zero-terminal-SNR + trailing schedule against the SD2 pipeline golden's timesteps.
import { describe, expect, it } from "vitest";
import { float32 } from "../tensor/tensor.js";
import { eulerDiscrete } from "./euler.js";
import { alphasCumprod } from "./schedule.js";
import type { SchedulerConfig } from "./types.js";
import { goldenJson, goldenTensor } from "../../test/helpers/golden.js";

const SD: SchedulerConfig = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: "scaled_linear", steps_offset: 1, prediction_type: "v_prediction" };
const noNoise = { randn: (s: readonly number[]) => float32(s, new Array<number>(s.reduce((a, b) => a * b, 1)).fill(NaN)) };
const close = (a: ArrayLike<number>, b: number[]) => b.forEach((v, k) => expect(a[k]).toBeCloseTo(v, 4));

describe("eulerDiscrete", () => {
  it("v_prediction step: x0 = v·(−σ/√(σ²+1)) + x/(σ²+1), x' = x + (x − x0)/σ·(σ1 − σ0)", () => {
    const s = eulerDiscrete(SD, 2);
    const [s0, s1] = [s.sigmas![0]!, s.sigmas![1]!];
    const x = [0.5, -1.2];
    const v = [0.3, 0.7];
    const out = s.step(float32([2], v), 0, float32([2], x), noNoise);
    const x0 = x.map((xi, k) => v[k]! * (-s0 / Math.sqrt(s0 * s0 + 1)) + xi / (s0 * s0 + 1));
    close(out.predOriginalSample!.data, x0);
    close(out.prevSample.data, x.map((xi, k) => xi + ((xi - x0[k]!) / s0) * (s1 - s0)));
  });

  it("zero-SNR + trailing matches the SD2 golden schedule", () => {
    type Case = { name: string; file: string; scheduler_config: SchedulerConfig; num_inference_steps: number };
    const index = goldenJson<{ cases: Case[] }>("diffusion", "sd2", "pipelines", "index.json");
    const c = index.cases.find((k) => k.name === "sd2_euler_zsnr_trailing_p1_g5.0_csNone_gr0.7")!;
    const s = eulerDiscrete(c.scheduler_config, c.num_inference_steps);
    const want = goldenTensor(["diffusion", c.file], "step_timesteps").data as Float32Array;
    expect(s.timesteps).toEqual([...want]);
    // diffusers sets the last ᾱ to 2^-24 after rescaling, so σ_max = √((1 − 2^-24)/2^-24) ≈ 4096
    const ac = alphasCumprod({ numTrainTimesteps: 1000, betaStart: 0.00085, betaEnd: 0.012, betaSchedule: "scaled_linear", rescaleBetasZeroSnr: true }, true);
    expect(ac[999]).toBe(2 ** -24);
    expect(s.sigmas![0]).toBeCloseTo(Math.sqrt((1 - 2 ** -24) / 2 ** -24), 2);
    expect(s.initNoiseSigma).toBe(s.sigmas![0]); // trailing: init_noise_sigma = σ_max (diffusers' property)
    // rescaling keeps ᾱ_0 and makes the unclamped terminal SNR zero
    const plain = alphasCumprod({ numTrainTimesteps: 1000, betaStart: 0.00085, betaEnd: 0.012, betaSchedule: "scaled_linear" });
    const rescaled = alphasCumprod({ numTrainTimesteps: 1000, betaStart: 0.00085, betaEnd: 0.012, betaSchedule: "scaled_linear", rescaleBetasZeroSnr: true });
    expect(rescaled[0]).toBeCloseTo(plain[0]!, 6);
    expect(rescaled[999]).toBeLessThan(1e-10);
  });

  it("addNoise is x + σ_i·noise", () => {
    const s = eulerDiscrete(SD, 4);
    const out = s.addNoise(float32([2], [1, 2]), float32([2], [0.5, -0.5]), 1);
    close(out.data, [1 + 0.5 * s.sigmas![1]!, 2 - 0.5 * s.sigmas![1]!]);
  });
});
