// KDPM2AncestralDiscreteScheduler (diffusers 0.27.2): DPM2 towards σ_down plus fresh noise of size σ_up;
// noise is drawn on every model call (used on the second-order calls only).
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import { expandSecondOrder, kdpm2Base, logMidpoint } from "./kdpm2.js";
import { predictionType, sigmaToTFloat32 } from "./schedule.js";
import { predOriginalSigma, scaleBySigma, sigmaSampler } from "./sigma-sampler.js";
import type { Noise, SchedulerFactory, StepResult } from "./types.js";

const f32 = Math.fround;

export const kdpm2Ancestral: SchedulerFactory = (config, steps) => {
  const prediction = predictionType(config);
  if (prediction === "sample") throw new Error("KDPM2AncestralDiscrete: prediction_type sample is not implemented (as in diffusers)");
  const base = kdpm2Base(config, steps);
  const s = base.sigmas;
  const n1 = s.length;
  const next = s.map((_, k) => (k + 1 < n1 ? s[k + 1]! : 0));
  const up = s.map((v, k) => {
    const v2 = f32(v * v);
    const nx2 = f32(next[k]! * next[k]!);
    return f32(Math.sqrt(f32(f32(nx2 * f32(v2 - nx2)) / v2))); // NaN for the final σ = 0, as in diffusers
  });
  const down = s.map((_, k) => (k === n1 - 1 ? 0 : f32(Math.sqrt(f32(f32(next[k]! * next[k]!) - f32(up[k]! * up[k]!))))));
  const interpolBase = s.map((v, k) => (k >= n1 - 2 ? 0 : logMidpoint(v, down[k]!)));
  const sigmas = expandSecondOrder(s);
  const interpol = expandSecondOrder(interpolBase);
  const ups = expandSecondOrder(up);
  const downs = expandSecondOrder(down);
  const tInterpol = interpolBase.map((v) => sigmaToTFloat32(v, base.logSigmas));
  const timesteps = [base.timesteps[0]!, ...base.timesteps.slice(1).flatMap((t, k) => [tInterpol[k]!, t])];
  let saved: Float32Tensor | undefined;
  return sigmaSampler({
    timesteps,
    sigmas,
    spacing: base.spacing,
    onBeginIndex() {
      saved = undefined;
    },
    scaleModelInput: (sample, i) => scaleBySigma(sample, saved === undefined ? sigmas[i]! : interpol[i - 1]!),
    step(modelOutput: Float32Tensor, i: number, sample: Float32Tensor, noise: Noise): StepResult {
      const first = saved === undefined;
      const j = first ? i : i - 1;
      const sigma = sigmas[j]!;
      const mid = interpol[j]!;
      const z = noise.randn(modelOutput.shape).data;
      const pred = predOriginalSigma(prediction, modelOutput, sample, first ? sigma : mid);
      const p = pred.data;
      const d = sample.data.map((v, k) => f32(f32(v - p[k]!) / (first ? sigma : mid)));
      if (first) {
        const dt = f32(mid - sigma);
        saved = sample;
        return { prevSample: float32(sample.shape, sample.data.map((v, k) => f32(v + f32(d[k]! * dt)))), predOriginalSample: pred };
      }
      const dt = f32(downs[i - 1]! - sigma);
      const sigmaUp = ups[i - 1]!;
      const x = saved!.data;
      saved = undefined;
      const prevSample = x.map((v, k) => f32(f32(v + f32(d[k]! * dt)) + f32(z[k]! * sigmaUp)));
      return { prevSample: float32(sample.shape, prevSample), predOriginalSample: pred };
    },
  });
};
