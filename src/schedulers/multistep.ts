// Pieces shared by the lambda-space multistep samplers (DPM-Solver multistep/singlestep, UniPC, DEIS):
// the VP view of a k-diffusion sigma, model output → x0, linear combinations of latents, and add_noise.
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import {
  alphasCumprod,
  karrasSigmas,
  logSigmas,
  npArange,
  npLinspace,
  roundHalfEven,
  sigmaToT,
  trainScheduleConfig,
  trainSigmas,
  type PredictionType,
} from "./schedule.js";
import type { SchedulerConfig } from "./types.js";

export type { PredictionType };

/** A sigma seen as the VP process: alpha_t = 1/sqrt(sigma²+1), sigma_t = sigma·alpha_t, lambda = log alpha − log sigma. */
export interface AlphaSigma {
  alpha: number;
  sigma: number;
  lambda: number;
}

/** diffusers `_sigma_to_alpha_sigma_t`, plus the half-log-SNR lambda the solvers step in (+inf at sigma 0). */
export function alphaSigma(sigma: number): AlphaSigma {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  const s = sigma * alpha;
  return { alpha, sigma: s, lambda: Math.log(alpha) - Math.log(s) };
}

/** out = Σ coef·tensor, element-wise in doubles, stored as float32. Terms with coefficient 0 are skipped. */
export function combine(terms: ReadonlyArray<readonly [number, Float32Tensor]>): Float32Tensor {
  const first = terms[0];
  if (first === undefined) throw new Error("combine: no terms");
  const n = first[1].data.length;
  const acc = new Float64Array(n);
  for (const [c, t] of terms) {
    if (t.data.length !== n) throw new Error(`combine: ${t.data.length} elements vs ${n}`);
    if (c === 0) continue;
    const d = t.data;
    for (let i = 0; i < n; i++) acc[i]! += c * d[i]!;
  }
  return float32(first[1].shape, Float32Array.from(acc));
}

/** Model output → data prediction x0 at noise level `sigma` (diffusers' dpmsolver++ / UniPC / DEIS conversion). */
export function toX0(prediction: PredictionType, modelOutput: Float32Tensor, sample: Float32Tensor, sigma: number): Float32Tensor {
  const { alpha, sigma: s } = alphaSigma(sigma);
  switch (prediction) {
    case "epsilon":
      return combine([[1 / alpha, sample], [-s / alpha, modelOutput]]); // (x − σ_t·ε)/α_t
    case "v_prediction":
      return combine([[alpha, sample], [-s, modelOutput]]); // α_t·x − σ_t·v
    case "sample":
      return float32(modelOutput.shape, Float32Array.from(modelOutput.data));
  }
}

/** DPM-Solver++ first-order update from noise level `from` to `to`: x_t = (σ_t/σ_s)·x − α_t(e^{−h} − 1)·x0. */
export function dpmSolverFirstOrder(x0: Float32Tensor, sample: Float32Tensor, from: number, to: number): Float32Tensor {
  const t = alphaSigma(to);
  const s = alphaSigma(from);
  const h = t.lambda - s.lambda;
  return combine([[t.sigma / s.sigma, sample], [-t.alpha * (Math.exp(-h) - 1), x0]]);
}

/** diffusers `add_noise` of the DPM family: alpha_t·x + sigma_t·noise, with the VP alpha/sigma of `sigma`. */
export function addNoiseVP(original: Float32Tensor, noise: Float32Tensor, sigma: number): Float32Tensor {
  const { alpha, sigma: s } = alphaSigma(sigma);
  return combine([[alpha, original], [s, noise]]);
}

/** `prediction_type` with diffusers' validation. */
export function predictionTypeOf(config: SchedulerConfig, className: string): PredictionType {
  const p = config.prediction_type ?? "epsilon";
  if (p !== "epsilon" && p !== "v_prediction" && p !== "sample") {
    throw new Error(`${className}: prediction_type ${String(p)} must be epsilon, v_prediction or sample`);
  }
  return p;
}

/** `solver_order` (default 2) of the classes that implement orders 1 to 3. */
export function solverOrderOf(config: SchedulerConfig, className: string): 1 | 2 | 3 {
  const solverOrder = numberOr(config["solver_order"], 2);
  if (solverOrder !== 1 && solverOrder !== 2 && solverOrder !== 3) throw new Error(`${className}: solver_order ${solverOrder} must be 1, 2 or 3`);
  return solverOrder;
}

/** The DPM-Solver classes' `solver_type` (default midpoint); diffusers maps the other families' names to midpoint. */
export function dpmSolverTypeOf(config: SchedulerConfig, className: string): "midpoint" | "heun" {
  let solverType = stringOr(config["solver_type"], "midpoint");
  if (solverType === "logrho" || solverType === "bh1" || solverType === "bh2") solverType = "midpoint";
  if (solverType !== "midpoint" && solverType !== "heun") throw new Error(`${className}: solver_type ${solverType} is not supported`);
  return solverType;
}

/** The DPM-Solver classes' `final_sigmas_type` (default zero). */
export function finalSigmasTypeOf(config: SchedulerConfig, className: string): "zero" | "sigma_min" {
  const finalSigmasType = stringOr(config["final_sigmas_type"], "zero");
  if (finalSigmasType !== "zero" && finalSigmasType !== "sigma_min") {
    throw new Error(`${className}: final_sigmas_type must be zero or sigma_min, got ${finalSigmasType}`);
  }
  return finalSigmasType;
}

/**
 * The order of a multistep update (DPM-Solver multistep, DEIS): `solverOrder` once `warmSteps` earlier steps exist,
 * lowered to 1 on the final step and to 2 on the one before where the caller's lower-order rule says so.
 */
export function multistepOrder(solverOrder: 1 | 2 | 3, warmSteps: number, lowerFinal: boolean, lowerSecond: boolean): 1 | 2 | 3 {
  if (solverOrder === 1 || warmSteps < 1 || lowerFinal) return 1;
  if (solverOrder === 2 || warmSteps < 2 || lowerSecond) return 2;
  return 3;
}

/** Rejects config features these samplers do not implement, rather than silently ignoring them. */
export function rejectUnsupported(config: SchedulerConfig, className: string): void {
  if (config["thresholding"] === true) throw new Error(`${className}: thresholding (pixel-space models) is not supported`);
  const vt = config["variance_type"];
  if (vt !== undefined && vt !== null) throw new Error(`${className}: variance_type ${String(vt)} is not supported`);
}

/** `lambda_min_clipped` as diffusers reads it (JSON configs spell −inf as the string "-inf"). */
export function lambdaMinClipped(config: SchedulerConfig): number {
  const v = config["lambda_min_clipped"];
  if (v === undefined || v === null || v === "-inf") return -Infinity;
  if (typeof v === "number") return v;
  const parsed = Number(v);
  if (Number.isNaN(parsed)) throw new Error(`lambda_min_clipped ${String(v)} is not a number`);
  return parsed;
}

/** torch.searchsorted(flip(lambda_t), value) (left side): how many of the ascending lambdas are < value. */
export function clippedIndex(lambdaT: ArrayLike<number>, value: number): number {
  let count = 0;
  for (let i = 0; i < lambdaT.length; i++) if (lambdaT[i]! < value) count++;
  return count;
}

/** Typed reads of loose scheduler_config.json fields, falling back to the class default. */
export function numberOr(v: unknown, fallback: number): number {
  return typeof v === "number" ? v : fallback;
}

export function boolOr(v: unknown, fallback: boolean): boolean {
  return typeof v === "boolean" ? v : fallback;
}

export function stringOr<T extends string>(v: unknown, fallback: T): T | string {
  return typeof v === "string" ? v : fallback;
}

/** Which diffusers class's `set_timesteps` to reproduce (they differ in spacing options and the last sigma). */
export type LambdaScheduleKind = "dpm-multistep" | "dpm-singlestep" | "unipc" | "deis";

export interface LambdaSchedule {
  /** Integer timesteps, descending, one per step. */
  timesteps: number[];
  /** float32 sigmas, one per step plus the final one. */
  sigmas: number[];
}

const f32 = Math.fround;

/**
 * Timesteps and sigmas of DPMSolverMultistep / DPMSolverSinglestep / UniPCMultistep / DEISMultistep `set_timesteps`
 * (diffusers 0.27.2). All four default to betas linear 0.0001..0.02, linspace spacing, steps_offset 0.
 * `finalSigmasType` applies to the DPM classes; UniPC and DEIS end at sigma_min (Karras: the last Karras sigma repeated).
 */
export function lambdaSchedule(
  config: SchedulerConfig,
  steps: number,
  opts: { kind: LambdaScheduleKind; finalSigmasType?: "zero" | "sigma_min" },
): LambdaSchedule {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`num_inference_steps must be a positive integer, got ${steps}`);
  const train = trainScheduleConfig(config, { beta_start: 0.0001, beta_end: 0.02, beta_schedule: "linear", timestep_spacing: "linspace" });
  // Only DPMSolverMultistep has rescale_betas_zero_snr in 0.27.2 (and pins the last alphas_cumprod to 2^-24).
  if (opts.kind !== "dpm-multistep") train.rescaleBetasZeroSnr = false;
  const ac = alphasCumprod(train, opts.kind === "dpm-multistep");
  const T = train.numTrainTimesteps;
  const sigmasTrain = trainSigmas(ac);
  const useKarras = config.use_karras_sigmas === true;
  const useLu = opts.kind === "dpm-multistep" && config["use_lu_lambdas"] === true;

  // Timesteps before any Karras / Lu replacement.
  let timesteps: number[];
  const isDpm = opts.kind === "dpm-multistep" || opts.kind === "dpm-singlestep";
  const clipped = isDpm ? clippedIndex(lambdaT(ac), lambdaMinClipped(config)) : 0;
  const last = T - clipped;
  const spacing = opts.kind === "dpm-singlestep" ? "linspace" : (config.timestep_spacing ?? "linspace");
  const offset = config.steps_offset ?? 0;
  const dropLast = (xs: number[]): number[] => xs.reverse().slice(0, steps);
  switch (spacing) {
    case "linspace":
      timesteps = dropLast(npLinspace(0, last - 1, steps + 1).map(roundHalfEven));
      break;
    case "leading": {
      const ratio = Math.floor(last / (steps + 1));
      timesteps = dropLast(Array.from({ length: steps + 1 }, (_, k) => k * ratio)).map((t) => t + offset);
      break;
    }
    case "trailing":
      timesteps = npArange(last, 0, -T / steps).map((t) => roundHalfEven(t) - 1);
      break;
    default:
      throw new Error(`timestep_spacing ${String(spacing)} is not supported`);
  }

  let sigmas: number[];
  if (useKarras || useLu) {
    const logs = logSigmas(sigmasTrain);
    if (useKarras) {
      // A config may carry sigma_min / sigma_max (diffusers reads them when present), else the training ends.
      const min = typeof config["sigma_min"] === "number" ? config["sigma_min"] : sigmasTrain[0]!;
      const max = typeof config["sigma_max"] === "number" ? config["sigma_max"] : sigmasTrain[T - 1]!;
      sigmas = karrasSigmas(min, max, steps);
    } else {
      // diffusers `_convert_to_lu`: rho 1 between the flipped log-sigmas' ends, then exponentiated.
      const lo = logs[0]!;
      const hi = logs[T - 1]!;
      sigmas = npLinspace(0, 1, steps).map((r) => Math.exp(hi + r * (lo - hi)));
    }
    timesteps = sigmas.map((s) => roundHalfEven(sigmaToT(s, logs)));
  } else {
    sigmas = timesteps.map((t) => sigmasTrain[t]!);
  }

  let final: number;
  if (isDpm) final = opts.finalSigmasType === "sigma_min" ? sigmasTrain[0]! : 0;
  else final = useKarras ? sigmas[sigmas.length - 1]! : sigmasTrain[0]!;
  return { timesteps, sigmas: [...sigmas, final].map(f32) };
}

/** lambda_t = log(sqrt(ᾱ)) − log(sqrt(1 − ᾱ)) per training step, float32 as diffusers holds it. */
export function lambdaT(alphasCumprod: Float32Array): Float32Array {
  return alphasCumprod.map((a) => f32(f32(Math.log(f32(Math.sqrt(a)))) - f32(Math.log(f32(Math.sqrt(f32(1 - a)))))));
}
