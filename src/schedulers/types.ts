// The one small contract every sampler implements (diffusers' scheduler API, with the loop index explicit).
import type { Float32Tensor } from "../tensor/tensor.js";

/** Fields of a diffusers `scheduler_config.json`; all optional, each sampler applies its class's defaults. */
export interface SchedulerConfig {
  num_train_timesteps?: number;
  beta_start?: number;
  beta_end?: number;
  beta_schedule?: "linear" | "scaled_linear" | "squaredcos_cap_v2";
  trained_betas?: number[] | null;
  prediction_type?: "epsilon" | "v_prediction" | "sample";
  timestep_spacing?: "linspace" | "leading" | "trailing";
  steps_offset?: number;
  use_karras_sigmas?: boolean;
  rescale_betas_zero_snr?: boolean;
  [key: string]: unknown;
}

/** Where stochastic samplers take their noise: the pipeline's seeded generator (or stored draws in tests). */
export interface Noise {
  randn(shape: readonly number[]): Float32Tensor;
}

export interface StepResult {
  prevSample: Float32Tensor;
  /** The denoised estimate x0 where the sampler computes it. */
  predOriginalSample?: Float32Tensor;
}

export interface Scheduler {
  /** Timesteps the loop iterates, one model call each (Heun and KDPM2: 2n − 1 entries). */
  readonly timesteps: readonly number[];
  /** Noise levels where the sampler has them (k-diffusion style samplers). */
  readonly sigmas?: readonly number[];
  /** Multiplier for the initial noise in text-to-image. */
  readonly initNoiseSigma: number;
  /** img2img / inpainting: the loop starts at this index of `timesteps` (diffusers `set_begin_index`). */
  setBeginIndex(index: number): void;
  /** Input scaling before the model call for loop iteration `i` (index into `timesteps`). */
  scaleModelInput(sample: Float32Tensor, i: number): Float32Tensor;
  /** One update for loop iteration `i`; draws exactly the random tensors diffusers draws, in its order. */
  step(modelOutput: Float32Tensor, i: number, sample: Float32Tensor, noise: Noise): StepResult;
  /** Forward-noises `original` to the noise level of loop index `i` (img2img start latents, inpainting blend). */
  addNoise(original: Float32Tensor, noise: Float32Tensor, i: number): Float32Tensor;
}

/** Builds a sampler for `numInferenceSteps` from a scheduler config (the model's own, or a family default). */
export type SchedulerFactory = (config: SchedulerConfig, numInferenceSteps: number) => Scheduler;
