// Every part-1 sampler against the scheduler goldens (README section 1): all families, all step counts on disk.
import { describe, expect, it } from "vitest";
import { eulerDiscrete } from "../../src/schedulers/euler.js";
import { eulerAncestral } from "../../src/schedulers/euler-ancestral.js";
import { lmsDiscrete } from "../../src/schedulers/lms.js";
import type { SchedulerFactory } from "../../src/schedulers/types.js";
import { type CaseCheckOptions, checkSchedulerCase, schedulerCases, schedulerFamilies } from "../helpers/scheduler-replay.js";

const SAMPLERS: Record<string, SchedulerFactory> = {
  euler: eulerDiscrete,
  euler_karras: eulerDiscrete,
  euler_a: eulerAncestral,
  lms: lmsDiscrete,
  lms_karras: lmsDiscrete,
};

/**
 * Timesteps are compared exactly, except where diffusers derives them from float32 log-sigmas (Karras schedules,
 * KDPM2's interpolated steps): numpy's SIMD float32 log is not correctly rounded, so those agree to ~1e-7 relative.
 */
function optionsFor(name: string): CaseCheckOptions {
  return name.includes("karras") || name.startsWith("kdpm2") ? { timestepRtol: 1e-6 } : {};
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
