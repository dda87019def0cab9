// diffusers' get_timesteps: strength keeps the last `int(steps · strength)` steps of the schedule (float
// truncation, so 6 · 0.3 = 1.7999… keeps 1), and the loop starts at index `t_start · scheduler.order`: 2 for the
// classes with two model calls per step (Heun, KDPM2, KDPM2 ancestral: 2n − 1 timesteps), else 1 (also PNDM, whose
// n + 1 timesteps repeat the first step).
import type { Scheduler } from "../schedulers/index.js";
import { SeedImageError } from "./seed-image-error.js";

export interface StrengthSchedule {
  /** diffusers `init_timestep`: denoising steps kept. */
  initTimestep: number;
  /** diffusers `t_start` (in steps). */
  tStart: number;
  /** First index into `scheduler.timesteps` the loop runs (= the scheduler's begin index). */
  startIndex: number;
}

export function checkStrength(strength: number): void {
  if (!Number.isFinite(strength) || strength < 0 || strength > 1) {
    throw new SeedImageError("invalidStrength", `strength must be in [0, 1], got ${strength}`);
  }
}

const SECOND_ORDER_CLASSES = new Set(["HeunDiscreteScheduler", "KDPM2DiscreteScheduler", "KDPM2AncestralDiscreteScheduler"]);

/** diffusers' `scheduler.order` of a scheduler class. */
export function schedulerOrder(className: string): number {
  return SECOND_ORDER_CLASSES.has(className) ? 2 : 1;
}

/**
 * Applies strength to a scheduler built for `steps` and sets its begin index. A strength that keeps no step is
 * refused (diffusers 0.27.2's inpainting pipeline raises; its img2img pipeline returns an empty batch).
 */
export function applyStrength(scheduler: Scheduler, steps: number, strength: number, order = 1): StrengthSchedule {
  checkStrength(strength);
  const initTimestep = Math.min(Math.trunc(steps * strength), steps);
  if (initTimestep < 1) {
    throw new SeedImageError(
      "invalidStrength",
      `strength ${strength} with ${steps} steps leaves no denoising step (int(steps · strength) = 0); use strength ≥ ${1 / steps}`,
    );
  }
  const tStart = steps - initTimestep;
  const startIndex = tStart * order;
  scheduler.setBeginIndex(startIndex);
  return { initTimestep, tStart, startIndex };
}
