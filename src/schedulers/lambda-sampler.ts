// The part every lambda-space sampler (DPM-Solver multistep/singlestep, UniPC, DEIS) shares: its schedule,
// identity input scaling, VP add_noise, and the last `solverOrder` model outputs its higher orders combine.
import type { Float32Tensor } from "../tensor/tensor.js";
import { addNoiseVP, type LambdaSchedule } from "./multistep.js";
import type { Noise, Scheduler, StepResult } from "./types.js";

export abstract class LambdaSampler implements Scheduler {
  readonly timesteps: readonly number[];
  readonly sigmas: readonly number[];
  readonly initNoiseSigma = 1;
  /** Newest last; `undefined` until enough steps have run. */
  private readonly modelOutputs: (Float32Tensor | undefined)[];
  private beginIndex = 0;

  constructor(
    private readonly className: string,
    schedule: LambdaSchedule,
    solverOrder: number,
  ) {
    this.timesteps = schedule.timesteps;
    this.sigmas = schedule.sigmas;
    this.modelOutputs = new Array<Float32Tensor | undefined>(solverOrder).fill(undefined);
  }

  /** Steps are indexed explicitly; the begin index is kept only to explain an out-of-range index. */
  setBeginIndex(index: number): void {
    this.beginIndex = index;
  }

  scaleModelInput(sample: Float32Tensor): Float32Tensor {
    return sample;
  }

  abstract step(modelOutput: Float32Tensor, i: number, sample: Float32Tensor, noise: Noise): StepResult;

  addNoise(original: Float32Tensor, noise: Float32Tensor, i: number): Float32Tensor {
    return addNoiseVP(original, noise, this.sigma(i));
  }

  /** Noise level of loop index `i` (`sigmas` has one more entry than `timesteps`). */
  protected sigma(i: number): number {
    const s = this.sigmas[i];
    if (s === undefined) {
      throw new Error(`${this.className}: step index ${i} outside 0..${this.sigmas.length - 1} (begin index ${this.beginIndex})`);
    }
    return s;
  }

  /** Drops the oldest model output and appends `output`. */
  protected pushOutput(output: Float32Tensor): void {
    this.modelOutputs.shift();
    this.modelOutputs.push(output);
  }

  /** Whether the model output `back` steps before the newest exists yet. */
  protected hasOutput(back: number): boolean {
    return this.modelOutputs[this.modelOutputs.length - 1 - back] !== undefined;
  }

  /** The model output `back` steps before the newest (0 = newest). */
  protected output(back: number): Float32Tensor {
    const m = this.modelOutputs[this.modelOutputs.length - 1 - back];
    if (m === undefined) throw new Error(`${this.className}: missing model output ${back} steps back`);
    return m;
  }
}
