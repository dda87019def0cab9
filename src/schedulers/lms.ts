// LMSDiscreteScheduler (diffusers 0.27.2): linear multistep (order ≤ 4) on the sigma-space derivative.
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import { predictionType } from "./schedule.js";
import { predOriginalSigma, sigmaSampler, sigmaSchedule } from "./sigma-sampler.js";
import type { SchedulerFactory, StepResult } from "./types.js";

const f32 = Math.fround;
const ORDER = 4;

// 5-point Gauss–Legendre on [−1, 1]: exact for polynomials up to degree 9 (the LMS basis has degree ≤ 3, which
// diffusers integrates with scipy's adaptive quad; both are exact up to round-off).
const GL_X = [0, -0.5384693101056831, 0.5384693101056831, -0.906179845938664, 0.906179845938664];
const GL_W = [0.5688888888888889, 0.47862867049936647, 0.47862867049936647, 0.23692688505618908, 0.23692688505618908];

/** ∫ from σ_i to σ_{i+1} of the Lagrange basis polynomial for node `current` over nodes σ_i, σ_{i−1}, …. */
export function lmsCoefficient(sigmas: readonly number[], order: number, i: number, current: number): number {
  const basis = (tau: number): number => {
    let prod = 1;
    for (let k = 0; k < order; k++) {
      if (k === current) continue;
      prod *= (tau - sigmas[i - k]!) / (sigmas[i - current]! - sigmas[i - k]!);
    }
    return prod;
  };
  const a = sigmas[i]!;
  const b = sigmas[i + 1]!;
  const half = (b - a) / 2;
  const mid = (a + b) / 2;
  let sum = 0;
  for (let q = 0; q < GL_X.length; q++) sum += GL_W[q]! * basis(mid + half * GL_X[q]!);
  return sum * half;
}

export const lms: SchedulerFactory = (config, steps) => {
  const prediction = predictionType(config);
  // Karras timesteps stay float64, as diffusers keeps them for LMS.
  const { timesteps, sigmas, spacing } = sigmaSchedule(config, steps, {
    defaults: { beta_start: 0.0001, beta_end: 0.02, beta_schedule: "linear", timestep_spacing: "linspace" },
    zeroSnr: false,
    karras: "ends",
  });
  const derivatives: Float32Array[] = [];
  let beginIndex = 0;
  return sigmaSampler({
    timesteps,
    sigmas,
    spacing,
    onBeginIndex(index) {
      beginIndex = index;
      derivatives.length = 0;
    },
    step(modelOutput: Float32Tensor, i: number, sample: Float32Tensor): StepResult {
      const sigma = sigmas[i]!;
      const predOriginalSample = predOriginalSigma(prediction, modelOutput, sample, sigma);
      const p = predOriginalSample.data;
      derivatives.push(sample.data.map((v, k) => f32(f32(v - p[k]!) / sigma)));
      if (derivatives.length > ORDER) derivatives.shift();
      const order = Math.min(i + 1 - beginIndex, ORDER);
      const coeffs = Array.from({ length: order }, (_, c) => f32(lmsCoefficient(sigmas, order, i, c)));
      const acc = new Float32Array(sample.data.length);
      coeffs.forEach((coeff, c) => {
        const d = derivatives[derivatives.length - 1 - c]!;
        for (let k = 0; k < acc.length; k++) acc[k] = f32(acc[k]! + f32(coeff * d[k]!));
      });
      const prevSample = float32(sample.shape, sample.data.map((v, k) => f32(v + acc[k]!)));
      return { prevSample, predOriginalSample };
    },
  });
};
