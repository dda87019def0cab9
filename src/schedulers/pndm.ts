// PNDMScheduler (diffusers 0.27.2), PLMS only (skip_prk_steps): linear multistep on ε with the pseudo-numerical
// DDIM transfer; n + 1 model calls (the first step is repeated for a 2nd-order start).
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import { alphaProdAt, alphaSampler, DDPM_CLASS_DEFAULTS, finalAlphaCumprod } from "./alpha-sampler.js";
import { alphasCumprod, configValue, npArange, npLinspace, predictionType, roundHalfEven, trainScheduleConfig, type TimestepSpacing } from "./schedule.js";
import type { SchedulerFactory, StepResult } from "./types.js";

const f32 = Math.fround;

/** PNDM's ascending `_timesteps` for a spacing. */
export function pndmBaseTimesteps(spacing: TimestepSpacing, n: number, T: number, stepsOffset: number): number[] {
  if (spacing === "linspace") return npLinspace(0, T - 1, n).map(roundHalfEven);
  if (spacing === "leading") return Array.from({ length: n }, (_, i) => i * Math.floor(T / n) + stepsOffset);
  if (spacing === "trailing") return npArange(T, 0, -T / n).map(roundHalfEven).reverse().map((t) => t - 1);
  throw new Error(`timestep_spacing ${String(spacing)} is not supported`);
}

export const pndm: SchedulerFactory = (config, steps) => {
  const prediction = predictionType(config);
  if (prediction === "sample") throw new Error("PNDM: prediction_type sample is not supported (as in diffusers)");
  if (!configValue(config, "skip_prk_steps", false)) throw new Error("PNDM: only PLMS (skip_prk_steps: true) is implemented");
  const train = trainScheduleConfig(config, DDPM_CLASS_DEFAULTS);
  const T = train.numTrainTimesteps;
  const ac = alphasCumprod({ ...train, rescaleBetasZeroSnr: false });
  const finalAlpha = finalAlphaCumprod(config, ac, false);
  const base = pndmBaseTimesteps(configValue<TimestepSpacing>(config, "timestep_spacing", "leading"), steps, T, configValue(config, "steps_offset", 0));
  const timesteps = [...base.slice(0, -1), ...base.slice(-2, -1), ...base.slice(-1)].reverse();
  const ratio = Math.floor(T / steps);
  let ets: Float32Array[] = [];
  let counter = 0;
  let curSample: Float32Array | undefined;

  const prevSampleOf = (x: Float32Array, t: number, prevT: number, e: Float32Array): Float32Array => {
    const a = ac[t]!;
    const aPrev = alphaProdAt(ac, prevT, finalAlpha);
    const beta = f32(1 - a);
    const betaPrev = f32(1 - aPrev);
    const eps = prediction === "v_prediction" ? e.map((v, k) => f32(f32(f32(Math.sqrt(a)) * v) + f32(f32(Math.sqrt(beta)) * x[k]!))) : e;
    const cx = f32(Math.sqrt(f32(aPrev / a)));
    const denom = f32(f32(a * f32(Math.sqrt(betaPrev))) + f32(Math.sqrt(f32(f32(a * beta) * aPrev))));
    const diff = f32(aPrev - a);
    return x.map((v, k) => f32(f32(cx * v) - f32(f32(diff * eps[k]!) / denom)));
  };

  return alphaSampler(timesteps, ac, (modelOutput: Float32Tensor, i: number, sample: Float32Tensor): StepResult => {
    let t = timesteps[i]!;
    let prevT = t - ratio;
    const m = modelOutput.data;
    if (counter !== 1) {
      ets = [...ets.slice(-3), m];
    } else {
      prevT = t;
      t = t + ratio;
    }
    let x = sample.data;
    let e: Float32Array;
    const [e1, e2, e3, e4] = [ets[ets.length - 1]!, ets[ets.length - 2]!, ets[ets.length - 3]!, ets[ets.length - 4]!];
    if (ets.length === 1 && counter === 0) {
      e = m;
      curSample = x;
    } else if (ets.length === 1 && counter === 1) {
      e = m.map((v, k) => f32(f32(v + e1[k]!) / 2));
      x = curSample!;
      curSample = undefined;
    } else if (ets.length === 2) {
      e = e1.map((v, k) => f32(f32(f32(3 * v) - e2[k]!) / 2));
    } else if (ets.length === 3) {
      e = e1.map((v, k) => f32(f32(f32(f32(23 * v) - f32(16 * e2[k]!)) + f32(5 * e3[k]!)) / 12));
    } else {
      const c = f32(1 / 24);
      e = e1.map((v, k) => f32(c * f32(f32(f32(f32(55 * v) - f32(59 * e2[k]!)) + f32(37 * e3[k]!)) - f32(9 * e4[k]!))));
    }
    const prevSample = prevSampleOf(x, t, prevT, e);
    counter++;
    return { prevSample: float32(sample.shape, prevSample) };
  });
};
