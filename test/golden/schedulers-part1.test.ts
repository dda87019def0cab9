// Every part-1 sampler against the scheduler goldens (README section 1): all families, all step counts on disk.
import { describe, expect, it } from "vitest";
import { eulerDiscrete } from "../../src/schedulers/euler.js";
import { ddim } from "../../src/schedulers/ddim.js";
import { ddpm } from "../../src/schedulers/ddpm.js";
import { lcm } from "../../src/schedulers/lcm.js";
import { pndm } from "../../src/schedulers/pndm.js";
import { eulerAncestral } from "../../src/schedulers/euler-ancestral.js";
import { heun } from "../../src/schedulers/heun.js";
import { kdpm2Ancestral } from "../../src/schedulers/kdpm2-ancestral.js";
import { kdpm2 } from "../../src/schedulers/kdpm2.js";
import { lms } from "../../src/schedulers/lms.js";
import type { SchedulerFactory } from "../../src/schedulers/types.js";
import { type CaseCheckOptions, checkSchedulerCase, schedulerCases, schedulerFamilies } from "../helpers/scheduler-replay.js";

const SAMPLERS: Record<string, SchedulerFactory> = {
  euler: eulerDiscrete,
  euler_karras: eulerDiscrete,
  euler_a: eulerAncestral,
  lms: lms,
  lms_karras: lms,
  heun,
  heun_karras: heun,
  kdpm2,
  kdpm2_karras: kdpm2,
  kdpm2_a: kdpm2Ancestral,
  ddim,
  ddpm,
  pndm,
  lcm,
};

/**
 * Timesteps are compared exactly, except where diffusers derives them from float32 log-sigmas (Karras schedules,
 * KDPM2's interpolated steps): numpy's SIMD float32 log is not correctly rounded, so those agree to ~1e-7 relative.
 */
function optionsFor(name: string): CaseCheckOptions {
  // (and the trajectories then absorb σ·Δ(b·sin t), see CaseCheckOptions.trajectoryAtol)
  return name.includes("karras") || name.startsWith("kdpm2") ? { timestepRtol: 1e-6, trajectoryAtol: 5e-5 } : {};
}

for (const family of schedulerFamilies()) {
  describe(`schedulers ${family}`, () => {
    for (const [name, factory] of Object.entries(SAMPLERS)) {
      const cases = schedulerCases(family, name);
      it(`${name} has golden cases`, () => expect(cases.length).toBeGreaterThan(0));
      for (const c of cases) it(`${name} n=${c.steps}`, () => void checkSchedulerCase(factory, c, optionsFor(name)));
    }
  });
}
