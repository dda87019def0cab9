// DDIMScheduler (diffusers 0.27.2) with eta = 0, as the pipelines call it: deterministic, no noise draws.
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import { alphaPredictions, alphaProdAt, alphaSampler, clipPrediction, ddpmSchedule, finalAlphaCumprod } from "./alpha-sampler.js";
import { predictionType } from "./schedule.js";
import type { SchedulerFactory, StepResult } from "./types.js";

const f32 = Math.fround;

export const ddim: SchedulerFactory = (config, steps) => {
  const prediction = predictionType(config);
  const { alphasCumprod: ac, timesteps, ratio } = ddpmSchedule(config, steps);
  const finalAlpha = finalAlphaCumprod(config, ac, true);
  return alphaSampler(timesteps, ac, (modelOutput: Float32Tensor, i: number, sample: Float32Tensor): StepResult => {
    const t = timesteps[i]!;
    const a = ac[t]!;
    const aPrev = alphaProdAt(ac, t - ratio, finalAlpha);
    const { pred: raw, eps } = alphaPredictions(prediction, modelOutput.data, sample.data, a);
    const pred = clipPrediction(config, true, raw);
    const cx = f32(Math.sqrt(aPrev));
    const ce = f32(Math.sqrt(f32(1 - aPrev)));
    const prevSample = pred.map((p, k) => f32(f32(cx * p) + f32(ce * eps[k]!)));
    return { prevSample: float32(sample.shape, prevSample), predOriginalSample: float32(sample.shape, pred) };
  });
};
