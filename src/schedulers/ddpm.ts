// DDPMScheduler (diffusers 0.27.2): ancestral sampling of the posterior q(x_{t−1} | x_t, x0); draws noise for t > 0.
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import { alphaPredictions, alphaProdAt, alphaSampler, clipPrediction, ddpmSchedule } from "./alpha-sampler.js";
import { configValue, predictionType } from "./schedule.js";
import type { Noise, SchedulerFactory, StepResult } from "./types.js";

const f32 = Math.fround;

export const ddpm: SchedulerFactory = (config, steps) => {
  const prediction = predictionType(config);
  const variance = configValue(config, "variance_type", "fixed_small");
  if (!["fixed_small", "fixed_small_log", "fixed_large"].includes(variance)) throw new Error(`DDPM: variance_type ${variance} is not supported`);
  const { alphasCumprod: ac, timesteps, ratio } = ddpmSchedule(config, steps);
  return alphaSampler(timesteps, ac, (modelOutput: Float32Tensor, i: number, sample: Float32Tensor, noise: Noise): StepResult => {
    const t = timesteps[i]!;
    const a = ac[t]!;
    const aPrev = alphaProdAt(ac, t - ratio, 1); // DDPM has no set_alpha_to_one: past t = 0 is ᾱ = 1
    const beta = f32(1 - a);
    const betaPrev = f32(1 - aPrev);
    const alphaT = f32(a / aPrev);
    const betaT = f32(1 - alphaT);
    const pred = clipPrediction(config, true, alphaPredictions(prediction, modelOutput.data, sample.data, a).pred);
    const cPred = f32(f32(f32(Math.sqrt(aPrev)) * betaT) / beta);
    const cSample = f32(f32(f32(Math.sqrt(alphaT)) * betaPrev) / beta);
    let prev = pred.map((p, k) => f32(f32(cPred * p) + f32(cSample * sample.data[k]!)));
    if (t > 0) {
      const z = noise.randn(modelOutput.shape).data;
      const small = Math.max(f32(f32(betaPrev / beta) * betaT), 1e-20);
      const std =
        variance === "fixed_small" ? f32(Math.sqrt(f32(small)))
        : variance === "fixed_small_log" ? f32(Math.exp(f32(0.5 * f32(Math.log(f32(small))))))
        : f32(Math.sqrt(betaT));
      prev = prev.map((v, k) => f32(v + f32(std * z[k]!)));
    }
    return { prevSample: float32(sample.shape, prev), predOriginalSample: float32(sample.shape, pred) };
  });
};
