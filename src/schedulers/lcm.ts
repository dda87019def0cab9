// LCMScheduler (diffusers 0.27.2): latent consistency sampling — x0 through the consistency boundary condition,
// then re-noised to the next timestep (fresh noise on every step but the last).
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import { alphaPredictions, alphaProdAt, alphaSampler, clipPrediction, finalAlphaCumprod } from "./alpha-sampler.js";
import { alphasCumprod, configValue, predictionType, trainScheduleConfig } from "./schedule.js";
import type { Noise, SchedulerFactory, StepResult } from "./types.js";

const f32 = Math.fround;

/** LCM timesteps: `original_inference_steps` evenly skipped training steps, n of them picked by floor(linspace). */
export function lcmTimesteps(steps: number, T: number, originalSteps: number): number[] {
  if (originalSteps > T) throw new Error(`LCM: original_inference_steps ${originalSteps} exceeds ${T} training steps`);
  if (steps > originalSteps) throw new Error(`LCM: ${steps} steps exceed original_inference_steps ${originalSteps}`);
  const k = Math.floor(T / originalSteps);
  const origin = Array.from({ length: originalSteps }, (_, i) => (i + 1) * k - 1).reverse();
  // np.linspace(0, len, num=n, endpoint=False) → floor
  const step = origin.length / steps;
  const idx = Array.from({ length: steps }, (_, i) => Math.floor(i * step));
  return idx.map((j) => origin[j]!);
}

export const lcm: SchedulerFactory = (config, steps) => {
  const prediction = predictionType(config);
  const train = trainScheduleConfig(config, { beta_start: 0.00085, beta_end: 0.012, beta_schedule: "scaled_linear", timestep_spacing: "leading" });
  const T = train.numTrainTimesteps;
  const ac = alphasCumprod(train);
  const finalAlpha = finalAlphaCumprod(config, ac, true);
  const timesteps = lcmTimesteps(steps, T, configValue(config, "original_inference_steps", 50));
  const scaling = configValue(config, "timestep_scaling", 10);
  return alphaSampler(timesteps, ac, (modelOutput: Float32Tensor, i: number, sample: Float32Tensor, noise: Noise): StepResult => {
    const t = timesteps[i]!;
    const prevT = i + 1 < timesteps.length ? timesteps[i + 1]! : t;
    const a = ac[t]!;
    const aPrev = alphaProdAt(ac, prevT, finalAlpha);
    const scaled = f32(t * scaling);
    const s2 = f32(f32(scaled * scaled) + 0.25);
    const cSkip = f32(0.25 / s2);
    const cOut = f32(scaled / f32(Math.sqrt(s2)));
    const pred = clipPrediction(config, false, alphaPredictions(prediction, modelOutput.data, sample.data, a).pred);
    const denoised = pred.map((p, k) => f32(f32(cOut * p) + f32(cSkip * sample.data[k]!)));
    let prev = denoised;
    if (i !== timesteps.length - 1) {
      const z = noise.randn(modelOutput.shape).data;
      const ca = f32(Math.sqrt(aPrev));
      const cb = f32(Math.sqrt(f32(1 - aPrev)));
      prev = denoised.map((v, k) => f32(f32(ca * v) + f32(cb * z[k]!)));
    }
    return { prevSample: float32(sample.shape, prev), predOriginalSample: float32(sample.shape, denoised) };
  });
};
