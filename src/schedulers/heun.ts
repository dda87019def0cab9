// HeunDiscreteScheduler (diffusers 0.27.2): Heun's 2nd-order method; 2n − 1 model calls, alternating an Euler
// predictor and a trapezoidal corrector.
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import { addNoiseSigma, predOriginalSigma, scaleBySigma, sigmaInitNoise } from "./euler.js";
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
import type { Noise, Scheduler, SchedulerFactory, StepResult } from "./types.js";

const f32 = Math.fround;

/** [a0, a1, a1, a2, a2, …]: the first entry once, the rest twice (torch `repeat_interleave(2)`). */
export function repeatAfterFirst(values: readonly number[]): number[] {
  return [values[0]!, ...values.slice(1).flatMap((v) => [v, v])];
}

export const heun: SchedulerFactory = (config, steps) => {
  const prediction = predictionType(config);
  const clip = configValue(config, "clip_sample", false);
  const clipRange = configValue(config, "clip_sample_range", 1);
  const train = trainScheduleConfig(config, { beta_start: 0.00085, beta_end: 0.012, beta_schedule: "linear", timestep_spacing: "linspace" });
  const spacing = configValue<TimestepSpacing>(config, "timestep_spacing", "linspace");
  const ts = trainSigmas(alphasCumprod({ ...train, rescaleBetasZeroSnr: false }));
  let base = sigmaClassTimesteps(spacing, steps, { numTrainTimesteps: train.numTrainTimesteps, stepsOffset: configValue(config, "steps_offset", 0) });
  let raw = base.map((t) => interpAtIndex(t, ts));
  if (configValue(config, "use_karras_sigmas", false)) {
    raw = karrasSigmas(raw[raw.length - 1]!, raw[0]!, steps);
    const ls = logSigmas(ts);
    base = raw.map((s) => sigmaToT(s, ls));
  }
  const baseSigmas = [...raw.map(f32), 0];
  // [σ0, σ1, σ1, …, σ_{n−1}, σ_{n−1}, 0]
  const sigmas = [baseSigmas[0]!, ...baseSigmas.slice(1, -1).flatMap((s) => [s, s]), 0];
  const timesteps = repeatAfterFirst(base);
  let prevDerivative: Float32Array | undefined;
  let savedSample: Float32Tensor | undefined;
  let savedDt = 0;
  let beginIndex = 0;
  return {
    timesteps,
    sigmas,
    initNoiseSigma: sigmaInitNoise(sigmas, spacing),
    setBeginIndex(index: number) {
      beginIndex = index;
      prevDerivative = undefined;
      savedSample = undefined;
    },
    scaleModelInput: (sample, i) => scaleBySigma(sample, sigmas[i]!),
    step(modelOutput: Float32Tensor, i: number, sample: Float32Tensor, _noise: Noise): StepResult {
      const first = prevDerivative === undefined;
      const sigma = first ? sigmas[i]! : sigmas[i - 1]!;
      const next = first ? sigmas[i + 1]! : sigmas[i]!;
      let pred = predOriginalSigma(prediction, modelOutput, sample, first ? sigma : next);
      if (clip) pred = float32(pred.shape, pred.data.map((v) => Math.min(Math.max(v, -clipRange), clipRange)));
      const p = pred.data;
      if (first) {
        const d = sample.data.map((v, k) => f32(f32(v - p[k]!) / sigma));
        const dt = f32(next - sigma);
        prevDerivative = d;
        savedDt = dt;
        savedSample = sample;
        return { prevSample: float32(sample.shape, sample.data.map((v, k) => f32(v + f32(d[k]! * dt)))), predOriginalSample: pred };
      }
      const prev = prevDerivative!;
      const d = sample.data.map((v, k) => f32(f32(prev[k]! + f32(f32(v - p[k]!) / next)) / 2));
      const x = savedSample!.data;
      const dt = savedDt;
      prevDerivative = undefined;
      savedSample = undefined;
      return { prevSample: float32(sample.shape, x.map((v, k) => f32(v + f32(d[k]! * dt)))), predOriginalSample: pred };
    },
    addNoise: (original, noise, i) => addNoiseSigma(original, noise, sigmas[i ?? beginIndex]!),
  } satisfies Scheduler;
};
