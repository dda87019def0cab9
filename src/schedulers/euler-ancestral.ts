// EulerAncestralDiscreteScheduler (diffusers 0.27.2): Euler step down to σ_down, then fresh noise of size σ_up.
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import { addNoiseSigma, eulerUpdate, predOriginalSigma, scaleBySigma, sigmaInitNoise } from "./euler.js";
import {
  alphasCumprod,
  configValue,
  interpAtIndex,
  predictionType,
  sigmaClassTimesteps,
  trainScheduleConfig,
  trainSigmas,
  type TimestepSpacing,
} from "./schedule.js";
import type { Noise, Scheduler, SchedulerFactory, StepResult } from "./types.js";

const f32 = Math.fround;

export const eulerAncestral: SchedulerFactory = (config, steps) => {
  const prediction = predictionType(config);
  const train = trainScheduleConfig(config, { beta_start: 0.0001, beta_end: 0.02, beta_schedule: "linear", timestep_spacing: "linspace" });
  const spacing = configValue<TimestepSpacing>(config, "timestep_spacing", "linspace");
  const ts = trainSigmas(alphasCumprod(train, true));
  const timesteps = sigmaClassTimesteps(spacing, steps, { numTrainTimesteps: train.numTrainTimesteps, stepsOffset: configValue(config, "steps_offset", 0) });
  const sigmas = [...timesteps.map((t) => f32(interpAtIndex(t, ts))), 0];
  let beginIndex = 0;
  return {
    timesteps,
    sigmas,
    initNoiseSigma: sigmaInitNoise(sigmas, spacing),
    setBeginIndex(index: number) {
      beginIndex = index;
    },
    scaleModelInput: (sample, i) => scaleBySigma(sample, sigmas[i]!),
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
    addNoise: (original, noise, i) => addNoiseSigma(original, noise, sigmas[i ?? beginIndex]!),
  } satisfies Scheduler;
};
