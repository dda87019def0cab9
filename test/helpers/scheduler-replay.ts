// Replays the scheduler goldens (README section 1): the pipeline loop with the fake model and stored noise,
// and one check per case file with the README's tolerances.
import { readdirSync } from "node:fs";
import { expect } from "vitest";
import type { Noise, SchedulerConfig, SchedulerFactory } from "../../src/schedulers/types.js";
import { float32, numel, type Float32Tensor, type Tensor } from "../../src/tensor/tensor.js";
import { expectClose, goldenJson, goldenPath, goldenTensor } from "./golden.js";

const f32 = Math.fround;

/** The sidecar JSON of one scheduler case. */
export interface SchedulerCaseJson {
  family: string;
  case: string;
  class: string;
  num_inference_steps: number;
  config: SchedulerConfig;
  timesteps: number[];
  timesteps_dtype: string;
  sigmas?: number[] | null;
  init_noise_sigma: number;
  num_model_calls: number;
  has_pred_original_samples: boolean;
  stochastic: boolean;
  noise_draws: number;
  noise_stored: boolean;
  noise_draws_unused: boolean;
}

export interface SchedulerCase {
  family: string;
  name: string;
  steps: number;
  /** path parts relative to the golden root, without extension */
  base: string[];
  json: SchedulerCaseJson;
}

interface FakeModelParams {
  a: number;
  b: number;
  w: number;
}

const SCHED_DIR = ["diffusion", "schedulers"];

/** The fake model's a, b, w from `schedulers/index.json`. */
export function fakeModelParams(): FakeModelParams {
  return goldenJson<{ fake_model: FakeModelParams }>(...SCHED_DIR, "index.json").fake_model;
}

/** Families present on disk (`sd15`, `sdxl`, …). */
export function schedulerFamilies(): string[] {
  return readdirSync(goldenPath(...SCHED_DIR), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
}

/** Every case file `<case>_n<steps>.json` of `caseName` in `family`, found by listing the folder. */
export function schedulerCases(family: string, caseName: string): SchedulerCase[] {
  const re = new RegExp(`^${caseName}_n(\\d+)\\.json$`);
  const out: SchedulerCase[] = [];
  for (const file of readdirSync(goldenPath(...SCHED_DIR, family))) {
    const m = re.exec(file);
    if (m === null) continue;
    const stem = file.slice(0, -".json".length);
    const base = [...SCHED_DIR, family, stem];
    out.push({ family, name: caseName, steps: Number(m[1]), base, json: goldenJson<SchedulerCaseJson>(...base.slice(0, -1), `${stem}.json`) });
  }
  return out.sort((x, y) => x.steps - y.steps);
}

/** Slice `index` of the leading axis of a stacked tensor. */
export function sliceFirst(t: Tensor, index: number): Float32Tensor {
  const inner = t.shape.slice(1);
  const n = numel(inner);
  const data = t.data as Float32Array;
  return float32(inner, data.subarray(index * n, (index + 1) * n));
}

/**
 * A `Noise` that returns stored draws in order. With `stored` undefined every draw is a NaN tensor (draws
 * the golden marks unused: any use poisons the result). `draws` counts the calls.
 */
export class ReplayNoise implements Noise {
  draws = 0;
  constructor(private readonly stored?: Tensor) {}
  randn(shape: readonly number[]): Float32Tensor {
    const k = this.draws++;
    if (this.stored === undefined) return float32(shape, new Float32Array(numel(shape)).fill(NaN));
    if (k >= this.stored.shape[0]!) throw new Error(`noise draw ${k} requested but only ${this.stored.shape[0]} stored`);
    const t = sliceFirst(this.stored, k);
    expect([...t.shape]).toEqual([...shape]);
    return float32(shape, t.data);
  }
}

/** `eps = a·x + float32(b·sin(w·t))` with float32 products and sum (README section 1). */
export function fakeModel(x: Float32Tensor, t: number, p: FakeModelParams): Float32Tensor {
  const a = f32(p.a);
  const s = f32(p.b * Math.sin(p.w * t));
  const out = new Float32Array(x.data.length);
  for (let i = 0; i < out.length; i++) out[i] = f32(f32(a * x.data[i]!) + s);
  return float32(x.shape, out);
}

export interface ReplayOutputs {
  timesteps: readonly number[];
  sigmas: readonly number[] | undefined;
  initNoiseSigma: number;
  latentsScaled: Float32Tensor;
  modelInputs: Float32Tensor[];
  prevSamples: Float32Tensor[];
  predOriginals: (Float32Tensor | undefined)[];
  noiseDraws: number;
}

/** Runs the README loop: scale by init_noise_sigma, then per timestep scale → fake model → step. */
export function runSchedulerLoop(factory: SchedulerFactory, config: SchedulerConfig, steps: number, initLatents: Float32Tensor, noise: ReplayNoise, p = fakeModelParams()): ReplayOutputs {
  const s = factory(config, steps);
  const sigma0 = f32(s.initNoiseSigma);
  let latents = float32(initLatents.shape, initLatents.data.map((v) => f32(v * sigma0)));
  const latentsScaled = latents;
  const modelInputs: Float32Tensor[] = [];
  const prevSamples: Float32Tensor[] = [];
  const predOriginals: (Float32Tensor | undefined)[] = [];
  s.timesteps.forEach((t, i) => {
    const xIn = s.scaleModelInput(latents, i);
    modelInputs.push(xIn);
    const out = s.step(fakeModel(xIn, t, p), i, latents, noise);
    latents = out.prevSample;
    prevSamples.push(out.prevSample);
    predOriginals.push(out.predOriginalSample);
  });
  return { timesteps: s.timesteps, sigmas: s.sigmas, initNoiseSigma: s.initNoiseSigma, latentsScaled, modelInputs, prevSamples, predOriginals, noiseDraws: noise.draws };
}

function relClose(actual: readonly number[], expected: readonly number[], rtol: number, label: string): void {
  expect(actual.length, `${label} length`).toBe(expected.length);
  expectClose(Float64Array.from(actual), Float64Array.from(expected), { rtol, label });
}

export interface CaseCheckOptions {
  /**
   * Relative tolerance for timesteps (default 0 = exact). Only for timesteps derived from log-sigmas
   * (`_sigma_to_t` with Karras sigmas, KDPM2's interpolated steps): numpy 1.24's float32 `np.log` is a SIMD
   * approximation, not correctly rounded, so log_sigmas differ by an ulp here and there and the interpolated
   * timestep by ~1e-7 relative.
   */
  timestepRtol?: number;
  /**
   * Absolute trajectory tolerance (default 1e-5). Raised only together with `timestepRtol`: a timestep one float32
   * ulp off moves the fake model's `b·sin(t)` by ~1e-6, which x0 = x − σ·ε scales by σ (up to ~15).
   */
  trajectoryAtol?: number;
}

/** Runs one golden case and checks it with the README tolerances; returns the outputs for extra checks. */
export function checkSchedulerCase(factory: SchedulerFactory, c: SchedulerCase, opts: CaseCheckOptions = {}): ReplayOutputs {
  const file = [...c.base.slice(0, -1), `${c.base[c.base.length - 1]}.safetensors`];
  const init = goldenTensor(file, "init_latents") as Float32Tensor;
  const noise = new ReplayNoise(c.json.noise_stored ? goldenTensor(file, "noise") : undefined);
  const out = runSchedulerLoop(factory, c.json.config, c.steps, init, noise);
  const label = `${c.family}/${c.name}_n${c.steps}`;

  // timesteps exact (as the float32 tensor the golden stores; ints are exact anyway)
  const wantT = [...(goldenTensor(file, "timesteps").data as Float32Array)];
  if ((opts.timestepRtol ?? 0) === 0) expect(out.timesteps.map((t) => f32(t)), `${label} timesteps`).toEqual(wantT);
  else relClose(out.timesteps, wantT, opts.timestepRtol ?? 0, `${label} timesteps`);
  relClose([out.initNoiseSigma], [c.json.init_noise_sigma], 1e-6, `${label} init_noise_sigma`);
  if (c.json.sigmas !== undefined && c.json.sigmas !== null) {
    expect(out.sigmas, `${label} sigmas present`).toBeDefined();
    relClose(out.sigmas ?? [], c.json.sigmas, 1e-6, `${label} sigmas`);
  }
  expect(out.noiseDraws, `${label} noise draws`).toBe(c.json.noise_draws);

  // trajectories: abs 1e-5 + rel 1e-5 (rel 1e-4 at 30 steps, where round-off accumulates)
  const tol = { atol: opts.trajectoryAtol ?? 1e-5, rtol: c.steps >= 30 ? 1e-4 : 1e-5 };
  expectClose(out.latentsScaled, goldenTensor(file, "latents_scaled"), { ...tol, label: `${label} latents_scaled` });
  const n = c.json.num_model_calls;
  expect(out.prevSamples.length, `${label} model calls`).toBe(n);
  const modelInputs = goldenTensor(file, "model_inputs");
  const prev = goldenTensor(file, "prev_samples");
  const pred = c.json.has_pred_original_samples ? goldenTensor(file, "pred_original_samples") : undefined;
  for (let i = 0; i < n; i++) {
    expectClose(out.modelInputs[i]!, sliceFirst(modelInputs, i), { ...tol, label: `${label} model_inputs[${i}]` });
    expectClose(out.prevSamples[i]!, sliceFirst(prev, i), { ...tol, label: `${label} prev_samples[${i}]` });
    if (pred !== undefined) {
      const mine = out.predOriginals[i];
      expect(mine, `${label} pred_original_sample[${i}] returned`).toBeDefined();
      expectClose(mine!, sliceFirst(pred, i), { ...tol, label: `${label} pred_original_samples[${i}]` });
    }
  }
  expectClose(out.prevSamples[n - 1]!, goldenTensor(file, "final"), { ...tol, label: `${label} final` });
  return out;
}
