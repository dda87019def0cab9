// DPMSolverMultistepScheduler (diffusers 0.27.2): DPM-Solver++ 2M / 3M and the SDE variant 2M SDE, in lambda space.
import type { Float32Tensor } from "../tensor/tensor.js";
import { LambdaSampler } from "./lambda-sampler.js";
import {
  alphaSigma,
  boolOr,
  combine,
  dpmSolverFirstOrder,
  dpmSolverTypeOf,
  finalSigmasTypeOf,
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
import type { Noise, SchedulerConfig, SchedulerFactory, StepResult } from "./types.js";

const CLASS = "DPMSolverMultistepScheduler";

/** The class's own fields, with diffusers 0.27.2 defaults applied. */
export interface DPMSolverMultistepConfig {
  solverOrder: 1 | 2 | 3;
  algorithmType: "dpmsolver++" | "sde-dpmsolver++";
  solverType: "midpoint" | "heun";
  lowerOrderFinal: boolean;
  eulerAtFinal: boolean;
  finalSigmasType: "zero" | "sigma_min";
  predictionType: PredictionType;
}

export function dpmSolverMultistepConfig(config: SchedulerConfig): DPMSolverMultistepConfig {
  rejectUnsupported(config, CLASS);
  const solverOrder = solverOrderOf(config, CLASS);
  let algorithmType = stringOr(config["algorithm_type"], "dpmsolver++");
  if (algorithmType === "deis") algorithmType = "dpmsolver++"; // diffusers re-registers it
  if (algorithmType !== "dpmsolver++" && algorithmType !== "sde-dpmsolver++") {
    throw new Error(`${CLASS}: algorithm_type ${algorithmType} is not supported (dpmsolver++ or sde-dpmsolver++)`);
  }
  if (algorithmType === "sde-dpmsolver++" && solverOrder === 3) {
    throw new Error(`${CLASS}: sde-dpmsolver++ has no third-order update (diffusers fails on it too)`);
  }
  const solverType = dpmSolverTypeOf(config, CLASS);
  const finalSigmasType = finalSigmasTypeOf(config, CLASS);
  return {
    solverOrder,
    algorithmType,
    solverType,
    lowerOrderFinal: boolOr(config["lower_order_final"], true),
    eulerAtFinal: boolOr(config["euler_at_final"], false),
    finalSigmasType,
    predictionType: predictionTypeOf(config, CLASS),
  };
}

class DPMSolverMultistep extends LambdaSampler {
  private lowerOrderNums = 0;

  constructor(
    private readonly config: DPMSolverMultistepConfig,
    schedule: LambdaSchedule,
  ) {
    super(CLASS, schedule, config.solverOrder);
  }

  step(modelOutput: Float32Tensor, i: number, sample: Float32Tensor, noise: Noise): StepResult {
    const { config } = this;
    const n = this.timesteps.length;
    const lowerOrderFinal =
      i === n - 1 && (config.eulerAtFinal || (config.lowerOrderFinal && n < 15) || config.finalSigmasType === "zero");
    const lowerOrderSecond = i === n - 2 && config.lowerOrderFinal && n < 15;

    const x0 = toX0(config.predictionType, modelOutput, sample, this.sigma(i));
    this.pushOutput(x0);

    // The SDE variant draws one tensor per step, before the update, whatever order the update has.
    const z = config.algorithmType === "sde-dpmsolver++" ? noise.randn(modelOutput.shape) : undefined;

    const order = multistepOrder(config.solverOrder, this.lowerOrderNums, lowerOrderFinal, lowerOrderSecond);
    const prevSample = order === 1 ? this.firstOrder(x0, i, sample, z) : order === 2 ? this.secondOrder(i, sample, z) : this.thirdOrder(i, sample);
    if (this.lowerOrderNums < config.solverOrder) this.lowerOrderNums++;
    return { prevSample, predOriginalSample: x0 };
  }

  private firstOrder(x0: Float32Tensor, i: number, sample: Float32Tensor, z: Float32Tensor | undefined): Float32Tensor {
    if (z === undefined) return dpmSolverFirstOrder(x0, sample, this.sigma(i), this.sigma(i + 1));
    const t = alphaSigma(this.sigma(i + 1));
    const s = alphaSigma(this.sigma(i));
    const h = t.lambda - s.lambda;
    // x_t = (σ_t/σ_s)e^{−h}·x + α_t(1 − e^{−2h})·x0 + σ_t·sqrt(1 − e^{−2h})·z
    return combine([
      [(t.sigma / s.sigma) * Math.exp(-h), sample],
      [t.alpha * (1 - Math.exp(-2 * h)), x0],
      [t.sigma * Math.sqrt(1 - Math.exp(-2 * h)), z],
    ]);
  }

  private secondOrder(i: number, sample: Float32Tensor, z: Float32Tensor | undefined): Float32Tensor {
    const t = alphaSigma(this.sigma(i + 1));
    const s0 = alphaSigma(this.sigma(i));
    const s1 = alphaSigma(this.sigma(i - 1));
    const m0 = this.output(0);
    const m1 = this.output(1);
    const h = t.lambda - s0.lambda;
    const r0 = (s0.lambda - s1.lambda) / h;
    // D0 = m0, D1 = (m0 − m1)/r0; the update is linear in (x, m0, m1).
    const d1 = 1 / r0;
    let cx: number, cD0: number, cD1: number, cz = 0;
    if (z === undefined) {
      cx = t.sigma / s0.sigma;
      cD0 = -t.alpha * (Math.exp(-h) - 1);
      cD1 = this.config.solverType === "midpoint" ? -0.5 * t.alpha * (Math.exp(-h) - 1) : t.alpha * ((Math.exp(-h) - 1) / h + 1);
    } else {
      cx = (t.sigma / s0.sigma) * Math.exp(-h);
      cD0 = t.alpha * (1 - Math.exp(-2 * h));
      cD1 =
        this.config.solverType === "midpoint"
          ? 0.5 * t.alpha * (1 - Math.exp(-2 * h))
          : t.alpha * ((1 - Math.exp(-2 * h)) / (-2 * h) + 1);
      cz = t.sigma * Math.sqrt(1 - Math.exp(-2 * h));
    }
    const terms: [number, Float32Tensor][] = [
      [cx, sample],
      [cD0 + cD1 * d1, m0],
      [-cD1 * d1, m1],
    ];
    if (z !== undefined) terms.push([cz, z]);
    return combine(terms);
  }

  private thirdOrder(i: number, sample: Float32Tensor): Float32Tensor {
    const t = alphaSigma(this.sigma(i + 1));
    const s0 = alphaSigma(this.sigma(i));
    const s1 = alphaSigma(this.sigma(i - 1));
    const s2 = alphaSigma(this.sigma(i - 2));
    const m0 = this.output(0);
    const m1 = this.output(1);
    const m2 = this.output(2);
    const h = t.lambda - s0.lambda;
    const r0 = (s0.lambda - s1.lambda) / h;
    const r1 = (s1.lambda - s2.lambda) / h;
    // D1_0 = (m0 − m1)/r0, D1_1 = (m1 − m2)/r1, D1 = D1_0 + r0/(r0+r1)·(D1_0 − D1_1), D2 = (D1_0 − D1_1)/(r0+r1)
    const eh = Math.exp(-h) - 1;
    const cx = t.sigma / s0.sigma;
    const cD0 = -t.alpha * eh;
    const cD1 = t.alpha * (eh / h + 1);
    const cD2 = -t.alpha * ((eh + h) / (h * h) - 0.5);
    // Expand D1_0 and D1_1 into m0, m1, m2.
    const a = 1 / r0; // D1_0 = a·m0 − a·m1
    const b = 1 / r1; // D1_1 = b·m1 − b·m2
    const k = r0 / (r0 + r1);
    const q = 1 / (r0 + r1);
    // D1 = (1+k)·D1_0 − k·D1_1 ; D2 = q·D1_0 − q·D1_1
    const w0 = (1 + k) * cD1 + q * cD2; // weight of D1_0
    const w1 = -k * cD1 - q * cD2; // weight of D1_1
    return combine([
      [cx, sample],
      [cD0 + w0 * a, m0],
      [-w0 * a + w1 * b, m1],
      [-w1 * b, m2],
    ]);
  }
}

/** DPM-Solver++ multistep; `config` is a diffusers scheduler config (the model's, plus sampler overrides). */
export const dpmSolverMultistep: SchedulerFactory = (config, steps) => {
  const c = dpmSolverMultistepConfig(config);
  return new DPMSolverMultistep(c, lambdaSchedule(config, steps, { kind: "dpm-multistep", finalSigmasType: c.finalSigmasType }));
};
