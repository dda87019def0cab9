// KDPM2DiscreteScheduler (diffusers 0.27.2): k-diffusion's DPM2 — a half step to the log-midpoint sigma, then a
// full step with the midpoint derivative; 2n − 1 model calls.
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import { predictionType, sigmaToTFloat32 } from "./schedule.js";
import { predOriginalSigma, repeatAfterFirst, scaleBySigma, sigmaSampler, sigmaSchedule, type SigmaSchedule } from "./sigma-sampler.js";
import type { SchedulerConfig, SchedulerFactory, StepResult } from "./types.js";

const f32 = Math.fround;

/** torch float32 `exp(lerp(log a, log b, 0.5))` (weight 0.5 takes torch's `end − (end − start)·0.5` branch). */
export function logMidpoint(a: number, b: number): number {
  const la = f32(Math.log(a));
  const lb = f32(Math.log(b));
  return f32(Math.exp(f32(lb - f32(f32(lb - la) * 0.5))));
}

/** [a0, a1, a1, …, a_last, a_last, a_last]: torch `cat([a[:1], a[1:].repeat_interleave(2), a[-1:]])`. */
export function expandSecondOrder(values: readonly number[]): number[] {
  return [...repeatAfterFirst(values), values[values.length - 1]!];
}

/** Base (n) timesteps, float32 sigmas with trailing 0 (n + 1), and float32 log-sigmas of the KDPM2 classes. */
export function kdpm2Base(config: SchedulerConfig, steps: number): SigmaSchedule {
  return sigmaSchedule(config, steps, {
    defaults: { beta_start: 0.00085, beta_end: 0.012, beta_schedule: "linear", timestep_spacing: "linspace" },
    zeroSnr: false,
    karras: "ends",
    karrasTimestep: Math.round,
  });
}

export const kdpm2: SchedulerFactory = (config, steps) => {
  const prediction = predictionType(config);
  if (prediction === "sample") throw new Error("KDPM2Discrete: prediction_type sample is not implemented (as in diffusers)");
  const base = kdpm2Base(config, steps);
  const s = base.sigmas;
  // interpol[k] = log-midpoint of σ_k and σ_{k−1} (roll by one; entry 0 is never used)
  const interpolBase = s.map((v, k) => logMidpoint(v, s[(k - 1 + s.length) % s.length]!));
  const sigmas = expandSecondOrder(s);
  const interpol = expandSecondOrder(interpolBase);
  const tInterpol = interpolBase.map((v) => sigmaToTFloat32(v, base.logSigmas));
  const timesteps = [base.timesteps[0]!, ...base.timesteps.slice(1).flatMap((t, k) => [tInterpol[k + 1]!, t])];
  let saved: Float32Tensor | undefined;
  return sigmaSampler({
    timesteps,
    sigmas,
    spacing: base.spacing,
    onBeginIndex() {
      saved = undefined;
    },
    scaleModelInput: (sample, i) => scaleBySigma(sample, saved === undefined ? sigmas[i]! : interpol[i]!),
    step(modelOutput: Float32Tensor, i: number, sample: Float32Tensor): StepResult {
      const first = saved === undefined;
      const sigma = first ? sigmas[i]! : sigmas[i - 1]!;
      const mid = first ? interpol[i + 1]! : interpol[i]!;
      const next = first ? sigmas[i + 1]! : sigmas[i]!;
      const pred = predOriginalSigma(prediction, modelOutput, sample, first ? sigma : mid);
      const p = pred.data;
      const d = sample.data.map((v, k) => f32(f32(v - p[k]!) / (first ? sigma : mid)));
      const dt = f32((first ? mid : next) - sigma);
      const x = first ? sample.data : saved!.data;
      saved = first ? sample : undefined;
      return { prevSample: float32(sample.shape, x.map((v, k) => f32(v + f32(d[k]! * dt)))), predOriginalSample: pred };
    },
  });
};
