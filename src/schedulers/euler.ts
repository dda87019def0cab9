// EulerDiscreteScheduler (diffusers 0.27.2): first-order Euler in sigma space, optional Karras sigmas,
// zero-terminal-SNR rescaling, and continuous timesteps for v-prediction models.
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import {
  alphasCumprod,
  configValue,
  interpAtIndex,
  karrasSigmas,
  logSigmas,
  predictionType,
  sigmaClassTimesteps,
  sigmaToT,
  trainScheduleConfig,
  trainSigmas,
  type TimestepSpacing,
} from "./schedule.js";
import type { Noise, Scheduler, SchedulerConfig, SchedulerFactory, StepResult } from "./types.js";

const f32 = Math.fround;

/** Timesteps and sigmas (float32, trailing 0) of EulerDiscreteScheduler.set_timesteps. */
export function eulerSigmas(config: SchedulerConfig, steps: number): { timesteps: number[]; sigmas: number[]; spacing: TimestepSpacing } {
  const train = trainScheduleConfig(config, { beta_start: 0.0001, beta_end: 0.02, beta_schedule: "linear", timestep_spacing: "linspace" });
  const spacing = configValue<TimestepSpacing>(config, "timestep_spacing", "linspace");
  const interpolation = configValue(config, "interpolation_type", "linear");
  if (interpolation !== "linear") throw new Error(`EulerDiscrete: interpolation_type ${String(interpolation)} is not supported`);
  const ts = trainSigmas(alphasCumprod(train, true));
  let timesteps = sigmaClassTimesteps(spacing, steps, { numTrainTimesteps: train.numTrainTimesteps, stepsOffset: configValue(config, "steps_offset", 0) });
  let sigmas = timesteps.map((t) => interpAtIndex(t, ts));
  if (configValue(config, "use_karras_sigmas", false)) {
    const min = configValue<number>(config, "sigma_min", sigmas[sigmas.length - 1]!);
    const max = configValue<number>(config, "sigma_max", sigmas[0]!);
    sigmas = karrasSigmas(min, max, steps);
    const ls = logSigmas(ts);
    timesteps = sigmas.map((s) => f32(sigmaToT(s, ls)));
  }
  sigmas = sigmas.map(f32);
  if (configValue<string>(config, "timestep_type", "discrete") === "continuous" && predictionType(config) === "v_prediction") {
    timesteps = sigmas.map((s) => f32(0.25 * f32(Math.log(s))));
  }
  return { timesteps, sigmas: [...sigmas, 0], spacing };
}

/** `init_noise_sigma` of the Euler-family classes: σmax for linspace / trailing, √(σmax² + 1) for leading. */
export function sigmaInitNoise(sigmas: readonly number[], spacing: TimestepSpacing): number {
  const max = Math.max(...sigmas);
  return spacing === "leading" ? f32(Math.sqrt(f32(f32(max * max) + 1))) : max;
}

/** `sample / √(σ² + 1)` in float32. */
export function scaleBySigma(sample: Float32Tensor, sigma: number): Float32Tensor {
  const d = f32(Math.sqrt(f32(f32(sigma * sigma) + 1)));
  return float32(sample.shape, sample.data.map((x) => f32(x / d)));
}

/** `original + noise·σ` (diffusers' add_noise of the sigma-space samplers). */
export function addNoiseSigma(original: Float32Tensor, noise: Float32Tensor, sigma: number): Float32Tensor {
  return float32(original.shape, original.data.map((x, k) => f32(x + f32(noise.data[k]! * sigma))));
}

/** x0 from a model output at noise level σ, in float32 (epsilon / v_prediction / sample). */
export function predOriginalSigma(prediction: string, modelOutput: Float32Tensor, sample: Float32Tensor, sigma: number): Float32Tensor {
  const m = modelOutput.data;
  const x = sample.data;
  if (prediction === "epsilon") return float32(sample.shape, x.map((v, k) => f32(v - f32(sigma * m[k]!))));
  if (prediction === "sample") return float32(sample.shape, Float32Array.from(m));
  const s2 = f32(f32(sigma * sigma) + 1);
  const c = f32(-sigma / f32(Math.sqrt(s2)));
  return float32(sample.shape, x.map((v, k) => f32(f32(m[k]! * c) + f32(v / s2))));
}

/** `sample + (sample − x0)/σ · dt` in float32. */
export function eulerUpdate(sample: Float32Tensor, predOriginal: Float32Tensor, sigma: number, dt: number): Float32Tensor {
  const p = predOriginal.data;
  return float32(sample.shape, sample.data.map((v, k) => f32(v + f32(f32(f32(v - p[k]!) / sigma) * dt))));
}

export const eulerDiscrete: SchedulerFactory = (config, steps) => {
  const prediction = predictionType(config);
  const { timesteps, sigmas, spacing } = eulerSigmas(config, steps);
  const initNoiseSigma = sigmaInitNoise(sigmas, spacing);
  let beginIndex = 0;
  return {
    timesteps,
    sigmas,
    initNoiseSigma,
    setBeginIndex(index: number) {
      beginIndex = index;
    },
    scaleModelInput: (sample, i) => scaleBySigma(sample, sigmas[i]!),
    step(modelOutput: Float32Tensor, i: number, sample: Float32Tensor, noise: Noise): StepResult {
      const sigma = sigmas[i]!;
      // diffusers draws the churn noise every step; with s_churn = 0 (gamma = 0) it is never used.
      noise.randn(modelOutput.shape);
      const predOriginalSample = predOriginalSigma(prediction, modelOutput, sample, sigma);
      const prevSample = eulerUpdate(sample, predOriginalSample, sigma, f32(sigmas[i + 1]! - sigma));
      return { prevSample, predOriginalSample };
    },
    addNoise: (original, noise, i) => addNoiseSigma(original, noise, sigmas[i ?? beginIndex]!),
  } satisfies Scheduler;
};
