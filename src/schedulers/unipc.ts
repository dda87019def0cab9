// UniPCMultistepScheduler (diffusers 0.27.2): UniP predictor + UniC corrector, B(h) = bh1 or bh2, data prediction.
import type { Float32Tensor } from "../tensor/tensor.js";
import { LambdaSampler } from "./lambda-sampler.js";
import {
  alphaSigma,
  boolOr,
  combine,
  lambdaSchedule,
  numberOr,
  predictionTypeOf,
  rejectUnsupported,
  stringOr,
  toX0,
  type LambdaSchedule,
  type PredictionType,
} from "./multistep.js";
import type { SchedulerConfig, SchedulerFactory, StepResult } from "./types.js";

const CLASS = "UniPCMultistepScheduler";

export interface UniPCConfig {
  solverOrder: number;
  solverType: "bh1" | "bh2";
  lowerOrderFinal: boolean;
  /** Loop indices after which the corrector is skipped (diffusers `disable_corrector`). */
  disableCorrector: readonly number[];
  predictionType: PredictionType;
}

export function unipcConfig(config: SchedulerConfig): UniPCConfig {
  rejectUnsupported(config, CLASS);
  if (config["predict_x0"] === false) throw new Error(`${CLASS}: predict_x0 false (noise-prediction UniPC) is not supported`);
  const sp = config["solver_p"];
  if (sp !== undefined && sp !== null) throw new Error(`${CLASS}: solver_p is not supported`);
  const solverOrder = numberOr(config["solver_order"], 2);
  if (!Number.isInteger(solverOrder) || solverOrder < 1) throw new Error(`${CLASS}: solver_order ${solverOrder} must be a positive integer`);
  let solverType = stringOr(config["solver_type"], "bh2");
  if (solverType === "midpoint" || solverType === "heun" || solverType === "logrho") solverType = "bh2";
  if (solverType !== "bh1" && solverType !== "bh2") throw new Error(`${CLASS}: solver_type ${solverType} is not supported`);
  const dc = config["disable_corrector"];
  const disableCorrector = Array.isArray(dc) ? dc.filter((v): v is number => typeof v === "number") : [];
  return {
    solverOrder,
    solverType,
    lowerOrderFinal: boolOr(config["lower_order_final"], true),
    disableCorrector,
    predictionType: predictionTypeOf(config, CLASS),
  };
}

/** Solves A·x = b (small dense system, partial pivoting). */
export function solveLinear(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row.slice(0, n), b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    const piv = m[c]![c]!;
    if (piv === 0) throw new Error("solveLinear: singular system");
    for (let r = c + 1; r < n; r++) {
      const f = m[r]![c]! / piv;
      for (let k = c; k <= n; k++) m[r]![k]! -= f * m[c]![k]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r]![n]!;
    for (let k = r + 1; k < n; k++) s -= m[r]![k]! * x[k]!;
    x[r] = s / m[r]![r]!;
  }
  return x;
}

/**
 * The UniPC coefficient system for step size h (data prediction, hh = −h): rks (with the trailing 1),
 * R[k][j] = rks[j]^k, b[k] = h·φ_{k+1}(hh)·(k+1)!/B(h), plus h·φ_1 = expm1(hh) and B(h).
 */
function coefficients(h: number, rks: number[], order: number, solverType: "bh1" | "bh2") {
  const hh = -h;
  const hPhi1 = Math.expm1(hh);
  const bH = solverType === "bh1" ? hh : Math.expm1(hh);
  let hPhiK = hPhi1 / hh - 1;
  let factorial = 1;
  const R: number[][] = [];
  const b: number[] = [];
  for (let k = 1; k <= order; k++) {
    R.push(rks.map((r) => r ** (k - 1)));
    b.push((hPhiK * factorial) / bH);
    factorial *= k + 1;
    hPhiK = hPhiK / hh - 1 / factorial;
  }
  return { hPhi1, bH, R, b };
}

class UniPC extends LambdaSampler {
  private lowerOrderNums = 0;
  private lastSample: Float32Tensor | undefined;
  private thisOrder = 1;

  /** The corrector only runs once a previous step of this loop exists (`lastSample`), so a begin index needs no state. */
  constructor(
    private readonly config: UniPCConfig,
    schedule: LambdaSchedule,
  ) {
    super(CLASS, schedule, config.solverOrder);
  }

  step(modelOutput: Float32Tensor, i: number, sample: Float32Tensor): StepResult {
    const { config } = this;
    const useCorrector = i > 0 && !config.disableCorrector.includes(i - 1) && this.lastSample !== undefined;
    const x0 = toX0(config.predictionType, modelOutput, sample, this.sigma(i));
    let corrected = sample;
    if (useCorrector && this.lastSample !== undefined) corrected = this.corrector(x0, i, this.lastSample, sample, this.thisOrder);

    this.pushOutput(x0);

    const wanted = config.lowerOrderFinal ? Math.min(config.solverOrder, this.timesteps.length - i) : config.solverOrder;
    this.thisOrder = Math.min(wanted, this.lowerOrderNums + 1); // warm-up
    this.lastSample = corrected;
    const prevSample = this.predictor(i, corrected, this.thisOrder);
    if (this.lowerOrderNums < config.solverOrder) this.lowerOrderNums++;
    return { prevSample, predOriginalSample: x0 };
  }

  /** UniP: from sigma[i] to sigma[i+1] using the last `order` data predictions. */
  private predictor(i: number, x: Float32Tensor, order: number): Float32Tensor {
    const t = alphaSigma(this.sigma(i + 1));
    const s0 = alphaSigma(this.sigma(i));
    const h = t.lambda - s0.lambda;
    const rks: number[] = [];
    const others: Float32Tensor[] = [];
    for (let k = 1; k < order; k++) {
      rks.push((alphaSigma(this.sigma(i - k)).lambda - s0.lambda) / h);
      others.push(this.output(k));
    }
    const { hPhi1, bH, R, b } = coefficients(h, [...rks, 1], order, this.config.solverType);
    // x_t = (σ_t/σ_s0)·x − α_t·hφ1·m0 − α_t·B(h)·Σ ρ_k·D1_k, D1_k = (m_k − m0)/r_k
    const terms: [number, Float32Tensor][] = [[t.sigma / s0.sigma, x]];
    let m0Coef = -t.alpha * hPhi1;
    if (others.length > 0) {
      const rhos = order === 2 ? [0.5] : solveLinear(R.slice(0, -1).map((row) => row.slice(0, -1)), b.slice(0, -1));
      others.forEach((m, k) => {
        const c = (-t.alpha * bH * rhos[k]!) / rks[k]!;
        terms.push([c, m]);
        m0Coef -= c;
      });
    }
    terms.push([m0Coef, this.output(0)]);
    return combine(terms);
  }

  /** UniC: refines the sample that arrived at sigma[i] from lastSample at sigma[i−1], with the new x0 at sigma[i]. */
  private corrector(modelT: Float32Tensor, i: number, lastSample: Float32Tensor, _thisSample: Float32Tensor, order: number): Float32Tensor {
    const t = alphaSigma(this.sigma(i));
    const s0 = alphaSigma(this.sigma(i - 1));
    const h = t.lambda - s0.lambda;
    const m0 = this.output(0);
    const rks: number[] = [];
    const others: Float32Tensor[] = [];
    for (let k = 1; k < order; k++) {
      rks.push((alphaSigma(this.sigma(i - (k + 1))).lambda - s0.lambda) / h);
      others.push(this.output(k));
    }
    const { hPhi1, bH, R, b } = coefficients(h, [...rks, 1], order, this.config.solverType);
    const rhos = order === 1 ? [0.5] : solveLinear(R, b);
    // x_t = (σ_t/σ_s0)·x − α_t·hφ1·m0 − α_t·B(h)·(Σ ρ_k·D1_k + ρ_last·(model_t − m0))
    const terms: [number, Float32Tensor][] = [[t.sigma / s0.sigma, lastSample]];
    let m0Coef = -t.alpha * hPhi1;
    others.forEach((m, k) => {
      const c = (-t.alpha * bH * rhos[k]!) / rks[k]!;
      terms.push([c, m]);
      m0Coef -= c;
    });
    const cT = -t.alpha * bH * rhos[rhos.length - 1]!;
    terms.push([cT, modelT]);
    m0Coef -= cT;
    terms.push([m0Coef, m0]);
    return combine(terms);
  }
}

/** UniPC multistep (bh2 by default); Karras sigmas via `use_karras_sigmas`. */
export const unipc: SchedulerFactory = (config, steps) => new UniPC(unipcConfig(config), lambdaSchedule(config, steps, { kind: "unipc" }));
