// EulerDiscreteScheduler (diffusers 0.27.2): first-order Euler in sigma space, optional Karras sigmas,
// zero-terminal-SNR rescaling, and continuous timesteps for v-prediction models.
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import { configValue, predictionType, type TimestepSpacing } from "./schedule.js";
import { predOriginalSigma, sigmaSampler, sigmaSchedule } from "./sigma-sampler.js";
import type { Noise, SchedulerConfig, SchedulerFactory, StepResult } from "./types.js";

const f32 = Math.fround;

/** Timesteps and sigmas (float32, trailing 0) of EulerDiscreteScheduler.set_timesteps. */
export function eulerSigmas(config: SchedulerConfig, steps: number): { timesteps: number[]; sigmas: number[]; spacing: TimestepSpacing } {
  const interpolation = configValue(config, "interpolation_type", "linear");
  if (interpolation !== "linear") throw new Error(`EulerDiscrete: interpolation_type ${String(interpolation)} is not supported`);
  const schedule = sigmaSchedule(config, steps, {
    defaults: { beta_start: 0.0001, beta_end: 0.02, beta_schedule: "linear", timestep_spacing: "linspace" },
    zeroSnr: true,
    karras: "config-or-ends",
    karrasTimestep: f32,
  });
  let timesteps = schedule.timesteps;
  if (configValue<string>(config, "timestep_type", "discrete") === "continuous" && predictionType(config) === "v_prediction") {
    timesteps = schedule.sigmas.slice(0, -1).map((s) => f32(0.25 * f32(Math.log(s))));
  }
  return { timesteps, sigmas: schedule.sigmas, spacing: schedule.spacing };
}

/** `sample + (sample − x0)/σ · dt` in float32. */
export function eulerUpdate(sample: Float32Tensor, predOriginal: Float32Tensor, sigma: number, dt: number): Float32Tensor {
  const p = predOriginal.data;
  return float32(sample.shape, sample.data.map((v, k) => f32(v + f32(f32(f32(v - p[k]!) / sigma) * dt))));
}

export const eulerDiscrete: SchedulerFactory = (config, steps) => {
  const prediction = predictionType(config);
  const { timesteps, sigmas, spacing } = eulerSigmas(config, steps);
  return sigmaSampler({
    timesteps,
    sigmas,
    spacing,
    step(modelOutput: Float32Tensor, i: number, sample: Float32Tensor, noise: Noise): StepResult {
      const sigma = sigmas[i]!;
      // diffusers draws the churn noise every step; with s_churn = 0 (gamma = 0) it is never used.
      noise.randn(modelOutput.shape);
      const predOriginalSample = predOriginalSigma(prediction, modelOutput, sample, sigma);
      const prevSample = eulerUpdate(sample, predOriginalSample, sigma, f32(sigmas[i + 1]! - sigma));
      return { prevSample, predOriginalSample };
    },
  });
};
