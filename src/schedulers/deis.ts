// DEISMultistepScheduler (diffusers 0.27.2): log-rho DEIS, multistep orders 1–3 on epsilon re-derived from x0.
import type { Float32Tensor } from "../tensor/tensor.js";
import { LambdaSampler } from "./lambda-sampler.js";
import {
  alphaSigma,
  boolOr,
  combine,
  lambdaSchedule,
  multistepOrder,
  predictionTypeOf,
  rejectUnsupported,
  solverOrderOf,
  stringOr,
  toX0,
  type LambdaSchedule,
  type PredictionType,
} from "./multistep.js";
import type { SchedulerConfig, SchedulerFactory, StepResult } from "./types.js";

const CLASS = "DEISMultistepScheduler";

export interface DEISConfig {
  solverOrder: 1 | 2 | 3;
  lowerOrderFinal: boolean;
  predictionType: PredictionType;
}

export function deisConfig(config: SchedulerConfig): DEISConfig {
  rejectUnsupported(config, CLASS);
  const solverOrder = solverOrderOf(config, CLASS);
  const algorithmType = stringOr(config["algorithm_type"], "deis");
  if (algorithmType !== "deis" && algorithmType !== "dpmsolver" && algorithmType !== "dpmsolver++") {
    throw new Error(`${CLASS}: algorithm_type ${algorithmType} is not supported`); // diffusers maps the DPM names to deis
  }
  const solverType = stringOr(config["solver_type"], "logrho");
  if (!["logrho", "midpoint", "heun", "bh1", "bh2"].includes(solverType)) throw new Error(`${CLASS}: solver_type ${solverType} is not supported`);
  return { solverOrder, lowerOrderFinal: boolOr(config["lower_order_final"], true), predictionType: predictionTypeOf(config, CLASS) };
}

/** Second-order log-rho integral: ∫ Lagrange basis of the nodes (b, c) in log rho, evaluated at t. */
function ind2(t: number, b: number, c: number): number {
  return (t * (-Math.log(c) + Math.log(t) - 1)) / (Math.log(b) - Math.log(c));
}

/** Third-order counterpart over the nodes (b, c, d). */
function ind3(t: number, b: number, c: number, d: number): number {
  const lt = Math.log(t);
  const lc = Math.log(c);
  const ld = Math.log(d);
  const num = t * (lc * (ld - lt + 1) - ld * lt + ld + lt * lt - 2 * lt + 2);
  return num / ((Math.log(b) - lc) * (Math.log(b) - ld));
}

class DEIS extends LambdaSampler {
  private lowerOrderNums = 0;

  constructor(
    private readonly config: DEISConfig,
    schedule: LambdaSchedule,
  ) {
    super(CLASS, schedule, config.solverOrder);
  }

  step(modelOutput: Float32Tensor, i: number, sample: Float32Tensor): StepResult {
    const { config } = this;
    const n = this.timesteps.length;
    const lowerOrderFinal = i === n - 1 && config.lowerOrderFinal && n < 15;
    const lowerOrderSecond = i === n - 2 && config.lowerOrderFinal && n < 15;

    // DEIS works on epsilon, re-derived from the x0 estimate: (x − α_t·x0)/σ_t.
    const sigma = this.sigma(i);
    const x0 = toX0(config.predictionType, modelOutput, sample, sigma);
    const { alpha, sigma: s } = alphaSigma(sigma);
    const eps = combine([[1 / s, sample], [-alpha / s, x0]]);
    this.pushOutput(eps);

    const order = multistepOrder(config.solverOrder, this.lowerOrderNums, lowerOrderFinal, lowerOrderSecond);
    const prevSample = order === 1 ? this.firstOrder(eps, i, sample) : order === 2 ? this.secondOrder(i, sample) : this.thirdOrder(i, sample);
    if (this.lowerOrderNums < config.solverOrder) this.lowerOrderNums++;
    return { prevSample, predOriginalSample: x0 };
  }

  private firstOrder(eps: Float32Tensor, i: number, sample: Float32Tensor): Float32Tensor {
    const t = alphaSigma(this.sigma(i + 1));
    const s = alphaSigma(this.sigma(i));
    const h = t.lambda - s.lambda;
    // x_t = (α_t/α_s)·x − σ_t(e^h − 1)·ε
    return combine([[t.alpha / s.alpha, sample], [-t.sigma * (Math.exp(h) - 1), eps]]);
  }

  private secondOrder(i: number, sample: Float32Tensor): Float32Tensor {
    const t = alphaSigma(this.sigma(i + 1));
    const s0 = alphaSigma(this.sigma(i));
    const s1 = alphaSigma(this.sigma(i - 1));
    const rt = t.sigma / t.alpha;
    const r0 = s0.sigma / s0.alpha;
    const r1 = s1.sigma / s1.alpha;
    const c1 = ind2(rt, r0, r1) - ind2(r0, r0, r1);
    const c2 = ind2(rt, r1, r0) - ind2(r0, r1, r0);
    // x_t = α_t·(x/α_s0 + c1·ε0 + c2·ε1)
    return combine([[t.alpha / s0.alpha, sample], [t.alpha * c1, this.output(0)], [t.alpha * c2, this.output(1)]]);
  }

  private thirdOrder(i: number, sample: Float32Tensor): Float32Tensor {
    const t = alphaSigma(this.sigma(i + 1));
    const s0 = alphaSigma(this.sigma(i));
    const s1 = alphaSigma(this.sigma(i - 1));
    const s2 = alphaSigma(this.sigma(i - 2));
    const rt = t.sigma / t.alpha;
    const r0 = s0.sigma / s0.alpha;
    const r1 = s1.sigma / s1.alpha;
    const r2 = s2.sigma / s2.alpha;
    const c1 = ind3(rt, r0, r1, r2) - ind3(r0, r0, r1, r2);
    const c2 = ind3(rt, r1, r2, r0) - ind3(r0, r1, r2, r0);
    const c3 = ind3(rt, r2, r0, r1) - ind3(r0, r2, r0, r1);
    return combine([
      [t.alpha / s0.alpha, sample],
      [t.alpha * c1, this.output(0)],
      [t.alpha * c2, this.output(1)],
      [t.alpha * c3, this.output(2)],
    ]);
  }
}

/** DEIS multistep (log-rho, order 2 by default). */
export const deis: SchedulerFactory = (config, steps) => new DEIS(deisConfig(config), lambdaSchedule(config, steps, { kind: "deis" }));
