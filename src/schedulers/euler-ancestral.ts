// EulerAncestralDiscreteScheduler (diffusers 0.27.2): Euler step down to σ_down, then fresh noise of size σ_up.
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import { eulerUpdate } from "./euler.js";
import { predictionType } from "./schedule.js";
import { predOriginalSigma, sigmaSampler, sigmaSchedule } from "./sigma-sampler.js";
import type { Noise, SchedulerFactory, StepResult } from "./types.js";

const f32 = Math.fround;

export const eulerAncestral: SchedulerFactory = (config, steps) => {
  const prediction = predictionType(config);
  // The class has no use_karras_sigmas in 0.27.2.
  const { timesteps, sigmas, spacing } = sigmaSchedule(config, steps, {
    defaults: { beta_start: 0.0001, beta_end: 0.02, beta_schedule: "linear", timestep_spacing: "linspace" },
    zeroSnr: true,
    karras: "ignored",
  });
  return sigmaSampler({
    timesteps,
    sigmas,
    spacing,
    step(modelOutput: Float32Tensor, i: number, sample: Float32Tensor, noise: Noise): StepResult {
      const from = sigmas[i]!;
      const to = sigmas[i + 1]!;
      const from2 = f32(from * from);
      const to2 = f32(to * to);
      const up = f32(Math.sqrt(f32(f32(to2 * f32(from2 - to2)) / from2)));
      const down = f32(Math.sqrt(f32(to2 - f32(up * up))));
      const predOriginalSample = predOriginalSigma(prediction, modelOutput, sample, from);
      const stepped = eulerUpdate(sample, predOriginalSample, from, f32(down - from));
      const z = noise.randn(modelOutput.shape).data;
      const prevSample = float32(sample.shape, stepped.data.map((v, k) => f32(v + f32(z[k]! * up))));
      return { prevSample, predOriginalSample };
    },
  });
};
