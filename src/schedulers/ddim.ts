// DDIMScheduler (diffusers 0.27.2) with eta = 0, as the pipelines call it: deterministic, no noise draws.
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import { alphasCumprod, configValue, discreteTimesteps, predictionType, trainScheduleConfig, type TimestepSpacing } from "./schedule.js";
import type { Noise, Scheduler, SchedulerConfig, SchedulerFactory, StepResult } from "./types.js";

const f32 = Math.fround;

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

export const ddim: SchedulerFactory = (config, steps) => {
  const prediction = predictionType(config);
  const train = trainScheduleConfig(config, { beta_start: 0.0001, beta_end: 0.02, beta_schedule: "linear", timestep_spacing: "leading" });
  const T = train.numTrainTimesteps;
  const ac = alphasCumprod(train);
  const finalAlpha = configValue(config, "set_alpha_to_one", true) ? 1 : ac[0]!;
  const spacing = configValue<TimestepSpacing>(config, "timestep_spacing", "leading");
  const timesteps = discreteTimesteps(spacing, steps, { numTrainTimesteps: T, stepsOffset: configValue(config, "steps_offset", 0) });
  const ratio = Math.floor(T / steps);
  let beginIndex = 0;
  return {
    timesteps,
    initNoiseSigma: 1,
    setBeginIndex(index: number) {
      beginIndex = index;
    },
    scaleModelInput: (sample) => sample,
    step(modelOutput: Float32Tensor, i: number, sample: Float32Tensor, _noise: Noise): StepResult {
      const t = timesteps[i]!;
      const prevT = t - ratio;
      const a = ac[t]!;
      const aPrev = prevT >= 0 ? ac[prevT]! : finalAlpha;
      const { pred: raw, eps } = alphaPredictions(prediction, modelOutput.data, sample.data, a);
      const pred = clipPrediction(config, true, raw);
      const cx = f32(Math.sqrt(aPrev));
      const ce = f32(Math.sqrt(f32(1 - aPrev)));
      const prevSample = pred.map((p, k) => f32(f32(cx * p) + f32(ce * eps[k]!)));
      return { prevSample: float32(sample.shape, prevSample), predOriginalSample: float32(sample.shape, pred) };
    },
    addNoise: (original, noise, i) => addNoiseAlpha(original, noise, ac[timesteps[i ?? beginIndex]!]!),
  } satisfies Scheduler;
};
