// Noise schedules shared by every sampler: betas, alphas_cumprod, timestep spacing, sigmas, Karras, sigma → t.
// Mirrors diffusers 0.27.2 bit for bit where it can: torch float32 tensors are emulated with Math.fround,
// numpy float64 arrays are plain JS doubles.
import type { SchedulerConfig } from "./types.js";

const f32 = Math.fround;

export type BetaSchedule = "linear" | "scaled_linear" | "squaredcos_cap_v2";
export type TimestepSpacing = "linspace" | "leading" | "trailing";
export type PredictionType = "epsilon" | "v_prediction" | "sample";

/** The training-schedule part of a scheduler config, with the class defaults already applied. */
export interface TrainScheduleConfig {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: BetaSchedule;
  trainedBetas?: readonly number[] | null | undefined;
  rescaleBetasZeroSnr?: boolean | undefined;
}

/** Class defaults of one diffusers scheduler, used for keys absent from a config. */
export interface ClassDefaults {
  beta_start: number;
  beta_end: number;
  beta_schedule: BetaSchedule;
  timestep_spacing: TimestepSpacing;
  steps_offset?: number;
}

/** Reads a config field with a default (null counts as absent, as in diffusers' `from_config`). */
export function configValue<T>(config: SchedulerConfig, key: string, fallback: T): T {
  const v = config[key];
  return v === undefined || v === null ? fallback : (v as T);
}

/** The training-schedule fields of `config`, defaults from `defaults`. */
export function trainScheduleConfig(config: SchedulerConfig, defaults: ClassDefaults): TrainScheduleConfig {
  return {
    numTrainTimesteps: configValue(config, "num_train_timesteps", 1000),
    betaStart: configValue(config, "beta_start", defaults.beta_start),
    betaEnd: configValue(config, "beta_end", defaults.beta_end),
    betaSchedule: configValue(config, "beta_schedule", defaults.beta_schedule),
    trainedBetas: configValue<readonly number[] | null>(config, "trained_betas", null),
    rescaleBetasZeroSnr: configValue(config, "rescale_betas_zero_snr", false),
  };
}

/**
 * `torch.linspace(start, end, steps, dtype=float32)` on CPU: float32 step, the first half counted up from
 * `start`, the second half down from `end`, in AVX2 chunks of 8 (`base + i·step`). The compiled kernel fuses
 * each multiply-add (one rounding), which a double product followed by one float32 rounding reproduces exactly.
 * Checked element for element against the stored SD 1.5 betas.
 */
export function torchLinspaceF32(start: number, end: number, steps: number, vectorWidth = 8): Float32Array {
  const out = new Float32Array(steps);
  if (steps === 1) {
    out[0] = f32(start);
    return out;
  }
  const s = f32(start);
  const e = f32(end);
  const step = f32(f32(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  const scalarAt = (idx: number): number => (idx < halfway ? f32(s + step * idx) : f32(e - step * (steps - idx - 1)));
  const fullChunks = Math.floor(steps / vectorWidth) * vectorWidth;
  for (let idx = 0; idx < fullChunks; idx += vectorWidth) {
    const base = scalarAt(idx);
    for (let i = 0; i < vectorWidth; i++) out[idx + i] = f32(base + i * step);
  }
  for (let idx = fullChunks; idx < steps; idx++) out[idx] = scalarAt(idx);
  return out;
}

/** diffusers `betas_for_alpha_bar` (cosine, max_beta 0.999) in float64, stored as float32. */
export function betasForAlphaBar(numTrainTimesteps: number, maxBeta = 0.999): Float32Array {
  const alphaBar = (t: number): number => Math.cos(((t + 0.008) / 1.008) * Math.PI / 2) ** 2;
  const out = new Float32Array(numTrainTimesteps);
  for (let i = 0; i < numTrainTimesteps; i++) {
    const t1 = i / numTrainTimesteps;
    const t2 = (i + 1) / numTrainTimesteps;
    out[i] = Math.min(1 - alphaBar(t2) / alphaBar(t1), maxBeta);
  }
  return out;
}

/** Training betas (float32) for `linear`, `scaled_linear`, `squaredcos_cap_v2` or explicit `trained_betas`. */
export function makeBetas(config: TrainScheduleConfig): Float32Array {
  const n = config.numTrainTimesteps;
  if (config.trainedBetas !== undefined && config.trainedBetas !== null) return Float32Array.from(config.trainedBetas);
  switch (config.betaSchedule) {
    case "linear":
      return torchLinspaceF32(config.betaStart, config.betaEnd, n);
    case "scaled_linear":
      return torchLinspaceF32(config.betaStart ** 0.5, config.betaEnd ** 0.5, n).map((b) => f32(b * b));
    case "squaredcos_cap_v2":
      return betasForAlphaBar(n);
    default:
      throw new Error(`beta_schedule ${String(config.betaSchedule)} is not supported`);
  }
}

/** `torch.cumprod(1 - betas)` in float32 (CPU accumulates in double, storing each prefix as float32). */
export function alphasCumprodFromBetas(betas: Float32Array): Float32Array {
  const out = new Float32Array(betas.length);
  let acc = 1;
  for (let i = 0; i < betas.length; i++) {
    acc *= f32(1 - betas[i]!);
    out[i] = acc;
  }
  return out;
}

/** diffusers `rescale_zero_terminal_snr`: rescales betas so the last timestep has zero SNR (float32 math). */
export function rescaleZeroTerminalSnr(betas: Float32Array): Float32Array {
  const n = betas.length;
  const sqrtBar = alphasCumprodFromBetas(betas).map((a) => f32(Math.sqrt(a)));
  const first = sqrtBar[0]!;
  const last = sqrtBar[n - 1]!;
  const scale = f32(first / f32(first - last));
  const bar = sqrtBar.map((v) => {
    const shifted = f32(f32(v - last) * scale);
    return f32(shifted * shifted);
  });
  const out = new Float32Array(n);
  out[0] = f32(1 - bar[0]!);
  for (let i = 1; i < n; i++) out[i] = f32(1 - f32(bar[i]! / bar[i - 1]!));
  return out;
}

/**
 * alphas_cumprod of a training schedule. With `rescaleBetasZeroSnr`, betas are rescaled first; pass
 * `zeroSnrTerminal: true` for the classes that then set the last entry to 2^-24 (Euler, Euler a) so sigma stays finite.
 */
export function alphasCumprod(config: TrainScheduleConfig, zeroSnrTerminal = false): Float32Array {
  let betas = makeBetas(config);
  if (config.rescaleBetasZeroSnr === true) betas = rescaleZeroTerminalSnr(betas);
  const ac = alphasCumprodFromBetas(betas);
  if (config.rescaleBetasZeroSnr === true && zeroSnrTerminal) ac[ac.length - 1] = 2 ** -24;
  return ac;
}

/** `((1 − ᾱ) / ᾱ) ** 0.5` per training timestep, float32, ascending in t (not flipped). */
export function trainSigmas(alphasCumprod: Float32Array): Float32Array {
  return alphasCumprod.map((a) => f32(Math.sqrt(f32(f32(1 - a) / a))));
}

/** `np.round` (round half to even). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** `np.linspace(start, stop, num)` in float64 (endpoint included). */
export function npLinspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  const out: number[] = [];
  for (let i = 0; i < num; i++) out.push(i * step + start);
  out[num - 1] = stop;
  return out;
}

/** `np.arange(start, stop, step)` with a float step, as numpy fills it. */
export function npArange(start: number, stop: number, step: number): number[] {
  const len = Math.max(0, Math.ceil((stop - start) / step));
  if (len === 0) return [];
  const delta = start + step - start;
  const out = [start];
  for (let i = 1; i < len; i++) out.push(i === 1 ? start + step : start + i * delta);
  return out;
}

/** Options for the timestep spacing helpers. */
export interface SpacingOptions {
  numTrainTimesteps: number;
  stepsOffset: number;
}

/**
 * Integer inference timesteps, descending, as DDIM / DDPM compute them: linspace is rounded (half to even);
 * leading adds `steps_offset`; trailing subtracts 1.
 */
export function discreteTimesteps(spacing: TimestepSpacing, n: number, opts: SpacingOptions): number[] {
  const T = opts.numTrainTimesteps;
  switch (spacing) {
    case "linspace":
      return npLinspace(0, T - 1, n).map(roundHalfEven).reverse();
    case "leading": {
      const ratio = Math.floor(T / n);
      return Array.from({ length: n }, (_, i) => i * ratio + opts.stepsOffset).reverse();
    }
    case "trailing":
      return npArange(T, 0, -T / n).map((t) => roundHalfEven(t) - 1);
    default:
      throw new Error(`timestep_spacing ${String(spacing)} is not supported`);
  }
}

/**
 * Inference timesteps, descending, as the k-diffusion style classes compute them (Euler, Euler a, LMS, Heun,
 * KDPM2): as `discreteTimesteps` but linspace is `np.linspace(0, T−1, n, dtype=float32)` (not rounded). Values
 * are float32.
 */
export function sigmaClassTimesteps(spacing: TimestepSpacing, n: number, opts: SpacingOptions): number[] {
  if (spacing === "linspace") return npLinspace(0, opts.numTrainTimesteps - 1, n).map(f32).reverse();
  return discreteTimesteps(spacing, n, opts).map(f32);
}

/** `np.interp(x, arange(len(fp)), fp)` in float64 (x clamped to the ends, exact at the knots). */
export function interpAtIndex(x: number, fp: ArrayLike<number>): number {
  const last = fp.length - 1;
  if (x <= 0) return fp[0]!;
  if (x >= last) return fp[last]!;
  const j = Math.floor(x);
  if (j === x) return fp[j]!;
  const slope = (fp[j + 1]! - fp[j]!) / (j + 1 - j);
  return slope * (x - j) + fp[j]!;
}

/** Sigmas at (fractional) timesteps by linear interpolation of the training sigmas, float64. */
export function sigmasAtTimesteps(timesteps: readonly number[], trainSigmas: Float32Array): number[] {
  return timesteps.map((t) => interpAtIndex(t, trainSigmas));
}

/**
 * Karras et al. (2022) noise levels: `(σmax^(1/ρ) + ramp·(σmin^(1/ρ) − σmax^(1/ρ)))^ρ`, ramp = linspace(0, 1, n),
 * float64. diffusers takes σmin / σmax from the last / first entries of the interpolated sigmas.
 */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, n: number, rho = 7): number[] {
  const minInvRho = sigmaMin ** (1 / rho);
  const maxInvRho = sigmaMax ** (1 / rho);
  return npLinspace(0, 1, n).map((r) => (maxInvRho + r * (minInvRho - maxInvRho)) ** rho);
}

/** `np.log` of the float32 training sigmas (float32 result). */
export function logSigmas(trainSigmas: Float32Array): Float32Array {
  return trainSigmas.map((s) => f32(Math.log(s)));
}

/**
 * Where `logSigma` falls among the ascending float32 log-sigmas: the lower index (the last whose difference is ≥ 0,
 * at most len − 2) and the float32 weight of the upper one, clamped to [0, 1] (NaN stays NaN).
 */
function logSigmaBracket(logSigma: number, logSigmas: Float32Array): { lowIdx: number; w: number } {
  let lowIdx = 0;
  for (let i = 0; i < logSigmas.length; i++) if (f32(logSigma - logSigmas[i]!) >= 0) lowIdx = i;
  lowIdx = Math.min(lowIdx, logSigmas.length - 2);
  const low = logSigmas[lowIdx]!;
  const high = logSigmas[lowIdx + 1]!;
  const w = f32(f32(low - logSigma) / f32(low - high));
  return { lowIdx, w: Math.min(Math.max(w, 0), 1) };
}

/**
 * diffusers `_sigma_to_t` for a float64 sigma against float32 log-sigmas (numpy 1.24 value-based casting: the
 * differences and weight are float32, the final blend `(1 − w)·low + w·high` float64). Returns a fractional t.
 */
export function sigmaToT(sigma: number, logSigmas: Float32Array): number {
  const { lowIdx, w } = logSigmaBracket(f32(Math.log(Math.max(sigma, 1e-10))), logSigmas);
  return f32(1 - w) * lowIdx + w * (lowIdx + 1);
}

/**
 * The same lookup done on torch float32 tensors (KDPM2's interpolated timesteps): every operation is float32,
 * including the blend. Returns a float32 value.
 */
export function sigmaToTFloat32(sigma: number, logSigmas: Float32Array): number {
  const { lowIdx, w } = logSigmaBracket(f32(Math.log(Math.max(f32(sigma), f32(1e-10)))), logSigmas);
  return f32(f32(f32(1 - w) * lowIdx) + f32(w * (lowIdx + 1)));
}

/** The prediction type of a config (default epsilon), validated. */
export function predictionType(config: SchedulerConfig): PredictionType {
  const p = configValue<string>(config, "prediction_type", "epsilon");
  if (p === "epsilon" || p === "v_prediction" || p === "sample") return p;
  throw new Error(`prediction_type ${p} is not supported`);
}
