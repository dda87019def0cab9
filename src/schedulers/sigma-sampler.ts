// The part the sigma-space samplers (Euler, Euler a, Heun, LMS, KDPM2, KDPM2 a) share: the `set_timesteps`
// sigma schedule, input scaling, add_noise, x0 from a model output, and the Scheduler around a `step`.
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import {
  alphasCumprod,
  configValue,
  interpAtIndex,
  karrasSigmas,
  logSigmas,
  sigmaClassTimesteps,
  sigmaToT,
  trainScheduleConfig,
  trainSigmas,
  type ClassDefaults,
  type TimestepSpacing,
} from "./schedule.js";
import type { Scheduler, SchedulerConfig } from "./types.js";

const f32 = Math.fround;

/** How one class's `set_timesteps` differs from the others'. */
export interface SigmaScheduleOptions {
  defaults: ClassDefaults;
  /** Euler and Euler a honour `rescale_betas_zero_snr` (last ᾱ pinned to 2^-24); the other classes ignore it. */
  zeroSnr: boolean;
  /**
   * `use_karras_sigmas`: ignored (Euler a), Karras between the ends of the interpolated sigmas, or Euler's
   * `sigma_min` / `sigma_max` config fields first.
   */
  karras: "ignored" | "ends" | "config-or-ends";
  /** Karras sigma → timestep as the class stores it (default: the float64 fractional t). */
  karrasTimestep?: (t: number) => number;
}

export interface SigmaSchedule {
  /** Base timesteps, descending, one per step. */
  timesteps: number[];
  /** float32 sigmas, one per step plus the trailing 0. */
  sigmas: number[];
  /** float32 log of the training sigmas (for sigma → t lookups). */
  logSigmas: Float32Array;
  spacing: TimestepSpacing;
}

/** Timesteps and sigmas of a k-diffusion style class's `set_timesteps` (diffusers 0.27.2). */
export function sigmaSchedule(config: SchedulerConfig, steps: number, opts: SigmaScheduleOptions): SigmaSchedule {
  const train = trainScheduleConfig(config, opts.defaults);
  const spacing = configValue<TimestepSpacing>(config, "timestep_spacing", opts.defaults.timestep_spacing);
  const ts = opts.zeroSnr ? trainSigmas(alphasCumprod(train, true)) : trainSigmas(alphasCumprod({ ...train, rescaleBetasZeroSnr: false }));
  const ls = logSigmas(ts);
  let timesteps = sigmaClassTimesteps(spacing, steps, { numTrainTimesteps: train.numTrainTimesteps, stepsOffset: configValue(config, "steps_offset", 0) });
  let sigmas = timesteps.map((t) => interpAtIndex(t, ts));
  if (opts.karras !== "ignored" && configValue(config, "use_karras_sigmas", false)) {
    const fromConfig = opts.karras === "config-or-ends";
    const min = fromConfig ? configValue<number>(config, "sigma_min", sigmas[sigmas.length - 1]!) : sigmas[sigmas.length - 1]!;
    const max = fromConfig ? configValue<number>(config, "sigma_max", sigmas[0]!) : sigmas[0]!;
    sigmas = karrasSigmas(min, max, steps);
    const toTimestep = opts.karrasTimestep ?? ((t: number) => t);
    timesteps = sigmas.map((s) => toTimestep(sigmaToT(s, ls)));
  }
  return { timesteps, sigmas: [...sigmas.map(f32), 0], logSigmas: ls, spacing };
}

/** [a0, a1, a1, a2, a2, …]: the first entry once, the rest twice (torch `repeat_interleave(2)`). */
export function repeatAfterFirst(values: readonly number[]): number[] {
  return [values[0]!, ...values.slice(1).flatMap((v) => [v, v])];
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

/** What a sigma-space sampler supplies; the rest of the Scheduler is common. */
export interface SigmaSamplerParts {
  timesteps: number[];
  /** Per model call, with the trailing 0. */
  sigmas: number[];
  spacing: TimestepSpacing;
  step: Scheduler["step"];
  /** Defaults to `sample / √(σ_i² + 1)`. */
  scaleModelInput?: Scheduler["scaleModelInput"];
  /** Clears the sampler's own state when the loop starts at another index (img2img). */
  onBeginIndex?: (index: number) => void;
}

/** A sigma-space sampler: σmax-based initial noise, add_noise at σ of the step. */
export function sigmaSampler(parts: SigmaSamplerParts): Scheduler {
  const { timesteps, sigmas, spacing, step, onBeginIndex } = parts;
  let beginIndex = 0;
  return {
    timesteps,
    sigmas,
    initNoiseSigma: sigmaInitNoise(sigmas, spacing),
    setBeginIndex(index: number) {
      beginIndex = index;
      onBeginIndex?.(index);
    },
    scaleModelInput: parts.scaleModelInput ?? ((sample, i) => scaleBySigma(sample, sigmas[i]!)),
    step,
    addNoise: (original, noise, i) => addNoiseSigma(original, noise, sigmas[i ?? beginIndex]!),
  };
}
