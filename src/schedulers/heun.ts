// HeunDiscreteScheduler (diffusers 0.27.2): Heun's 2nd-order method; 2n − 1 model calls, alternating an Euler
// predictor and a trapezoidal corrector.
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import { configValue, predictionType } from "./schedule.js";
import { predOriginalSigma, repeatAfterFirst, sigmaSampler, sigmaSchedule } from "./sigma-sampler.js";
import type { SchedulerFactory, StepResult } from "./types.js";

const f32 = Math.fround;

export const heun: SchedulerFactory = (config, steps) => {
  const prediction = predictionType(config);
  const clip = configValue(config, "clip_sample", false);
  const clipRange = configValue(config, "clip_sample_range", 1);
  const base = sigmaSchedule(config, steps, {
    defaults: { beta_start: 0.00085, beta_end: 0.012, beta_schedule: "linear", timestep_spacing: "linspace" },
    zeroSnr: false,
    karras: "ends",
  });
  // [σ0, σ1, σ1, …, σ_{n−1}, σ_{n−1}, 0]
  const sigmas = [...repeatAfterFirst(base.sigmas.slice(0, -1)), 0];
  const timesteps = repeatAfterFirst(base.timesteps);
  let prevDerivative: Float32Array | undefined;
  let savedSample: Float32Tensor | undefined;
  let savedDt = 0;
  return sigmaSampler({
    timesteps,
    sigmas,
    spacing: base.spacing,
    onBeginIndex() {
      prevDerivative = undefined;
      savedSample = undefined;
    },
    step(modelOutput: Float32Tensor, i: number, sample: Float32Tensor): StepResult {
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
  });
};
