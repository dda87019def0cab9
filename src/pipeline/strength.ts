// diffusers' get_timesteps: strength keeps the last `int(steps · strength)` steps of the schedule (float
// truncation, so 6 · 0.3 = 1.7999… keeps 1). Samplers with two model calls per step (Heun, KDPM2) skip
// `t_start · order` entries of their 2n − 1 timesteps.
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

/**
 * Applies strength to a scheduler built for `steps` and sets its begin index. A strength that keeps no step is
 * refused (diffusers 0.27.2's inpainting pipeline raises; its img2img pipeline returns an empty batch).
 */
export function applyStrength(scheduler: Scheduler, steps: number, strength: number): StrengthSchedule {
  checkStrength(strength);
  const initTimestep = Math.min(Math.trunc(steps * strength), steps);
  if (initTimestep < 1) {
    throw new SeedImageError(
      "invalidStrength",
      `strength ${strength} with ${steps} steps leaves no denoising step (int(steps · strength) = 0); use strength ≥ ${1 / steps}`,
    );
  }
  const tStart = steps - initTimestep;
  const order = Math.max(1, Math.ceil(scheduler.timesteps.length / steps));
  const startIndex = tStart * order;
  scheduler.setBeginIndex(startIndex);
  return { initTimestep, tStart, startIndex };
}
