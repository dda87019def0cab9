// Part-2 samplers (DPM-Solver++ multistep/singlestep, UniPC, DEIS) against every stored case of README section 1,
// both config families, every step count found on disk.
import { describe, expect, it } from "vitest";
import { deis } from "../../src/schedulers/deis.js";
import { dpmSolverMultistep } from "../../src/schedulers/dpm-solver-multistep.js";
import { dpmSolverSinglestep } from "../../src/schedulers/dpm-solver-singlestep.js";
import type { SchedulerFactory } from "../../src/schedulers/types.js";
import { unipc } from "../../src/schedulers/unipc.js";
import { checkSchedulerCase, schedulerCases, schedulerFamilies } from "../helpers/scheduler-replay.js";

/** Golden case name → our factory. The case JSON's `config` already holds the case's kwargs (karras, sde, order 3). */
const CASES: Record<string, SchedulerFactory> = {
  dpmpp_2m: dpmSolverMultistep,
  dpmpp_2m_karras: dpmSolverMultistep,
  dpmpp_2m_sde: dpmSolverMultistep,
  dpmpp_2m_sde_karras: dpmSolverMultistep,
  dpmpp_3m: dpmSolverMultistep,
  dpmpp_3m_karras: dpmSolverMultistep,
  dpmpp_singlestep: dpmSolverSinglestep,
  dpmpp_singlestep_karras: dpmSolverSinglestep,
  unipc: unipc,
  unipc_karras: unipc,
  deis: deis,
};

for (const family of schedulerFamilies()) {
  describe(`schedulers part 2 — ${family}`, () => {
    for (const [name, factory] of Object.entries(CASES)) {
      const cases = schedulerCases(family, name);
      it(`${name}: cases exist`, () => {
        expect(cases.length).toBeGreaterThan(0);
      });
      for (const c of cases) {
        it(`${name} n${c.steps}`, () => {
          checkSchedulerCase(factory, c);
        });
      }
    }
  });
}
