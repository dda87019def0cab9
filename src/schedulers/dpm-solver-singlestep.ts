// DPMSolverSinglestepScheduler (diffusers 0.27.2): DPM-Solver++ singlestep, orders cycling 1, 2(, 3) from one anchor sample.
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
  predictionTypeOf,
  rejectUnsupported,
  solverOrderOf,
  stringOr,
  toX0,
  type LambdaSchedule,
  type PredictionType,
} from "./multistep.js";
import type { SchedulerConfig, SchedulerFactory, StepResult } from "./types.js";

const CLASS = "DPMSolverSinglestepScheduler";

export interface DPMSolverSinglestepConfig {
  solverOrder: 1 | 2 | 3;
  solverType: "midpoint" | "heun";
  /** After diffusers' `set_timesteps`, which forces it to true for uneven step counts and for final_sigmas_type "zero". */
  lowerOrderFinal: boolean;
  finalSigmasType: "zero" | "sigma_min";
  predictionType: PredictionType;
}

export function dpmSolverSinglestepConfig(config: SchedulerConfig, steps: number): DPMSolverSinglestepConfig {
  rejectUnsupported(config, CLASS);
  const solverOrder = solverOrderOf(config, CLASS);
  let algorithmType = stringOr(config["algorithm_type"], "dpmsolver++");
  if (algorithmType === "deis") algorithmType = "dpmsolver++";
  if (algorithmType !== "dpmsolver++") throw new Error(`${CLASS}: algorithm_type ${algorithmType} is not supported (dpmsolver++)`);
  const solverType = dpmSolverTypeOf(config, CLASS);
  const finalSigmasType = finalSigmasTypeOf(config, CLASS);
  let lowerOrderFinal = boolOr(config["lower_order_final"], false);
  if (!lowerOrderFinal && steps % solverOrder !== 0) lowerOrderFinal = true;
  if (!lowerOrderFinal && finalSigmasType === "zero") lowerOrderFinal = true;
  return { solverOrder, solverType, lowerOrderFinal, finalSigmasType, predictionType: predictionTypeOf(config, CLASS) };
}

/** diffusers `get_order_list`: the order of each step's update. */
export function singlestepOrders(steps: number, order: 1 | 2 | 3, lowerOrderFinal: boolean): number[] {
  const rep = (pattern: number[], times: number): number[] => Array.from({ length: Math.max(0, times) }, () => pattern).flat();
  if (order === 1) return new Array<number>(steps).fill(1);
  if (!lowerOrderFinal) return order === 3 ? rep([1, 2, 3], Math.floor(steps / 3)) : rep([1, 2], Math.floor(steps / 2));
  if (order === 3) {
    if (steps % 3 === 0) return [...rep([1, 2, 3], steps / 3 - 1), 1, 2, 1];
    if (steps % 3 === 1) return [...rep([1, 2, 3], Math.floor(steps / 3)), 1];
    return [...rep([1, 2, 3], Math.floor(steps / 3)), 1, 2];
  }
  if (steps % 2 === 0) return [...rep([1, 2], steps / 2 - 1), 1, 1];
  return [...rep([1, 2], Math.floor(steps / 2)), 1];
}

class DPMSolverSinglestep extends LambdaSampler {
  private readonly orders: number[];
  /** The anchor sample of the current single step (the sample at its first-order sub-step). */
  private anchor: Float32Tensor | undefined;

  constructor(
    private readonly config: DPMSolverSinglestepConfig,
    schedule: LambdaSchedule,
  ) {
    super(CLASS, schedule, config.solverOrder);
    this.orders = singlestepOrders(schedule.timesteps.length, config.solverOrder, config.lowerOrderFinal);
  }

  step(modelOutput: Float32Tensor, i: number, sample: Float32Tensor): StepResult {
    const x0 = toX0(this.config.predictionType, modelOutput, sample, this.sigma(i));
    this.pushOutput(x0);

    const listed = this.orders[i];
    if (listed === undefined) throw new Error(`${CLASS}: step index ${i} has no order (${this.orders.length} steps)`);
    let order = listed;
    while (!this.hasOutput(order - 1)) order--;
    if (order === 1) this.anchor = sample;
    const anchor = this.anchor;
    if (anchor === undefined) throw new Error(`${CLASS}: no anchor sample at step ${i}`);

    let prevSample: Float32Tensor;
    if (order === 1) prevSample = dpmSolverFirstOrder(x0, anchor, this.sigma(i), this.sigma(i + 1));
    else if (order === 2) prevSample = this.secondOrder(i, anchor);
    else prevSample = this.thirdOrder(i, anchor);
    return { prevSample, predOriginalSample: x0 };
  }

  /** From the anchor at sigma[i−1] straight to sigma[i+1], with the model outputs at i−1 and i. */
  private secondOrder(i: number, sample: Float32Tensor): Float32Tensor {
    const t = alphaSigma(this.sigma(i + 1));
    const s0 = alphaSigma(this.sigma(i));
    const s1 = alphaSigma(this.sigma(i - 1));
    const m0 = this.output(0);
    const m1 = this.output(1);
    const h = t.lambda - s1.lambda;
    const r0 = (s0.lambda - s1.lambda) / h;
    const eh = Math.exp(-h) - 1;
    // D0 = m1, D1 = (m0 − m1)/r0
    const cD0 = -t.alpha * eh;
    const cD1 = this.config.solverType === "midpoint" ? -0.5 * t.alpha * eh : t.alpha * (eh / h + 1);
    return combine([
      [t.sigma / s1.sigma, sample],
      [cD1 / r0, m0],
      [cD0 - cD1 / r0, m1],
    ]);
  }

  /** From the anchor at sigma[i−2] to sigma[i+1], with the model outputs at i−2, i−1, i. */
  private thirdOrder(i: number, sample: Float32Tensor): Float32Tensor {
    const t = alphaSigma(this.sigma(i + 1));
    const s0 = alphaSigma(this.sigma(i));
    const s1 = alphaSigma(this.sigma(i - 1));
    const s2 = alphaSigma(this.sigma(i - 2));
    const m0 = this.output(0);
    const m1 = this.output(1);
    const m2 = this.output(2);
    const h = t.lambda - s2.lambda;
    const r0 = (s0.lambda - s2.lambda) / h;
    const r1 = (s1.lambda - s2.lambda) / h;
    const eh = Math.exp(-h) - 1;
    const cD0 = -t.alpha * eh; // D0 = m2
    const cD1 = t.alpha * (eh / h + 1);
    // D1_0 = (m1 − m2)/r1, D1_1 = (m0 − m2)/r0
    let w10: number, w11: number; // weights of D1_0 and D1_1
    if (this.config.solverType === "midpoint") {
      w10 = 0;
      w11 = cD1; // the midpoint form uses D1_1 alone
    } else {
      const cD2 = -t.alpha * ((eh + h) / (h * h) - 0.5);
      // D1 = (r0·D1_0 − r1·D1_1)/(r0 − r1), D2 = 2(D1_1 − D1_0)/(r0 − r1)
      w10 = (cD1 * r0) / (r0 - r1) - (2 * cD2) / (r0 - r1);
      w11 = (-cD1 * r1) / (r0 - r1) + (2 * cD2) / (r0 - r1);
    }
    return combine([
      [t.sigma / s2.sigma, sample],
      [w11 / r0, m0],
      [w10 / r1, m1],
      [cD0 - w10 / r1 - w11 / r0, m2],
    ]);
  }
}

/** DPM-Solver++ singlestep; diffusers gives this class no timestep_spacing option (always linspace). */
export const dpmSolverSinglestep: SchedulerFactory = (config, steps) => {
  const c = dpmSolverSinglestepConfig(config, steps);
  return new DPMSolverSinglestep(c, lambdaSchedule(config, steps, { kind: "dpm-singlestep", finalSigmasType: c.finalSigmasType }));
};
