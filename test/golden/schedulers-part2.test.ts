// Part-2 samplers (DPM-Solver++ multistep/singlestep, UniPC, DEIS) against every stored case of README section 1,
// both config families, every step count found on disk.
import { describe, expect, it } from "vitest";
import { deis } from "../../src/schedulers/deis.js";
import { dpmSolverMultistep } from "../../src/schedulers/dpm-solver-multistep.js";
import { dpmSolverSinglestep } from "../../src/schedulers/dpm-solver-singlestep.js";
import type { SchedulerFactory } from "../../src/schedulers/types.js";
import { unipc } from "../../src/schedulers/unipc.js";
import { readdirSync } from "node:fs";
import type { Float32Tensor } from "../../src/tensor/tensor.js";
import { expectClose, goldenJson, goldenPath, goldenTensor } from "../helpers/golden.js";
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

// README section 8: img2img start latents with DPM++ 2M Karras are `add_noise(init_latents, noise, timesteps[:1])`
// = alpha_t·x + sigma_t·noise at sigmas[begin_index]; the schedule itself is listed in each sidecar.
interface Img2ImgJson {
  scheduler: string;
  scheduler_config: Record<string, unknown>;
  num_inference_steps: number;
  begin_index: number;
  all_timesteps: number[];
  sigmas: number[];
}

describe("DPM++ 2M Karras add_noise — img2img start latents", () => {
  const files = readdirSync(goldenPath("diffusion", "img2img")).filter((f) => /^img2img_dpmpp.*\.json$/.test(f));
  it("cases exist", () => {
    expect(files.length).toBeGreaterThan(0);
  });
  for (const file of files) {
    it(file, () => {
      const j = goldenJson<Img2ImgJson>("diffusion", "img2img", file);
      const st = ["diffusion", "img2img", file.replace(/\.json$/, ".safetensors")];
      const s = dpmSolverMultistep(j.scheduler_config, j.num_inference_steps);
      expect(s.timesteps).toEqual(j.all_timesteps);
      expectClose(Float64Array.from(s.sigmas ?? []), Float64Array.from(j.sigmas), { rtol: 1e-6, label: "sigmas" });
      s.setBeginIndex(j.begin_index);
      const noisy = s.addNoise(goldenTensor(st, "init_latents") as Float32Tensor, goldenTensor(st, "noise") as Float32Tensor, j.begin_index);
      expectClose(noisy, goldenTensor(st, "noisy_latents"), { atol: 1e-5, rtol: 1e-5, label: `${file} noisy_latents` });
    });
  }
});
