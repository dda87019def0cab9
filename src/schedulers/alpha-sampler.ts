// The part the alpha-space samplers (DDIM, DDPM, LCM, PNDM) share: ᾱ lookups, add_noise, x0 / ε from a model
// output, x0 clipping, and the Scheduler around a `step` (no input scaling, unit initial noise).
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import { alphasCumprod, configValue, discreteTimesteps, trainScheduleConfig, type ClassDefaults, type TimestepSpacing } from "./schedule.js";
import type { Scheduler, SchedulerConfig } from "./types.js";

const f32 = Math.fround;

/** Class defaults of DDIM, DDPM and PNDM: betas linear 0.0001..0.02, leading spacing. */
export const DDPM_CLASS_DEFAULTS: ClassDefaults = { beta_start: 0.0001, beta_end: 0.02, beta_schedule: "linear", timestep_spacing: "leading" };

/** DDIM / DDPM `set_timesteps`: training ᾱ, integer timesteps (leading by default) and the step ratio ⌊T / n⌋. */
export function ddpmSchedule(config: SchedulerConfig, steps: number): { alphasCumprod: Float32Array; timesteps: number[]; ratio: number } {
  const train = trainScheduleConfig(config, DDPM_CLASS_DEFAULTS);
  const T = train.numTrainTimesteps;
  const spacing = configValue<TimestepSpacing>(config, "timestep_spacing", "leading");
  const timesteps = discreteTimesteps(spacing, steps, { numTrainTimesteps: T, stepsOffset: configValue(config, "steps_offset", 0) });
  return { alphasCumprod: alphasCumprod(train), timesteps, ratio: Math.floor(T / steps) };
}

/** ᾱ stepped to past t = 0 (`final_alpha_cumprod`): 1 with `set_alpha_to_one`, else ᾱ_0. */
export function finalAlphaCumprod(config: SchedulerConfig, alphasCumprod: Float32Array, setAlphaToOneDefault: boolean): number {
  return configValue(config, "set_alpha_to_one", setAlphaToOneDefault) ? 1 : alphasCumprod[0]!;
}

/** ᾱ at timestep `t`, or `finalAlpha` for t < 0. */
export function alphaProdAt(alphasCumprod: Float32Array, t: number, finalAlpha: number): number {
  return t >= 0 ? alphasCumprod[t]! : finalAlpha;
}

/** `√ᾱ_t·x + √(1 − ᾱ_t)·noise` (add_noise of the alpha-space samplers), float32. */
export function addNoiseAlpha(original: Float32Tensor, noise: Float32Tensor, alphaProd: number): Float32Tensor {
  const a = f32(Math.sqrt(alphaProd));
  const b = f32(Math.sqrt(f32(1 - alphaProd)));
  return float32(original.shape, original.data.map((x, k) => f32(f32(a * x) + f32(b * noise.data[k]!))));
}

/** Clamps x0 to ±clip_sample_range when `clip_sample` is on; dynamic thresholding is not implemented. */
export function clipPrediction(config: SchedulerConfig, clipDefault: boolean, pred: Float32Array): Float32Array {
  if (configValue(config, "thresholding", false)) throw new Error("thresholding (dynamic thresholding) is not implemented");
  if (!configValue(config, "clip_sample", clipDefault)) return pred;
  const r = configValue(config, "clip_sample_range", 1);
  return pred.map((v) => Math.min(Math.max(v, -r), r));
}

/** x0 and ε from a model output at ᾱ_t in float32 (epsilon / v_prediction / sample). */
export function alphaPredictions(prediction: string, m: Float32Array, x: Float32Array, alphaProd: number): { pred: Float32Array; eps: Float32Array } {
  const beta = f32(1 - alphaProd);
  const sa = f32(Math.sqrt(alphaProd));
  const sb = f32(Math.sqrt(beta));
  if (prediction === "epsilon") return { pred: x.map((v, k) => f32(f32(v - f32(sb * m[k]!)) / sa)), eps: Float32Array.from(m) };
  if (prediction === "v_prediction") {
    return { pred: x.map((v, k) => f32(f32(sa * v) - f32(sb * m[k]!))), eps: x.map((v, k) => f32(f32(sa * m[k]!) + f32(sb * v))) };
  }
  return { pred: Float32Array.from(m), eps: x.map((v, k) => f32(f32(v - f32(sa * m[k]!)) / sb)) };
}

/** An alpha-space sampler from its timesteps, training ᾱ and `step`: identity input scaling, add_noise at ᾱ of the step. */
export function alphaSampler(timesteps: number[], alphasCumprod: Float32Array, step: Scheduler["step"]): Scheduler {
  let beginIndex = 0;
  return {
    timesteps,
    initNoiseSigma: 1,
    setBeginIndex(index: number) {
      beginIndex = index;
    },
    scaleModelInput: (sample) => sample,
    step,
    addNoise: (original, noise, i) => addNoiseAlpha(original, noise, alphasCumprod[timesteps[i ?? beginIndex]!]!),
  };
}
