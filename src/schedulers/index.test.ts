// Table tests for the sampler registry: request names → our ids, overrides, "Default", refusals, and that an id plus
// the family base config reproduces the golden case's scheduler (the golden case names are our ids).
import { describe, expect, it } from "vitest";
import { goldenJson } from "../../test/helpers/golden.js";
import { schedulerCases } from "../../test/helpers/scheduler-replay.js";
import {
  ACCEPTED_SCHEDULER_NAMES,
  SAMPLER_IDS,
  SAMPLERS,
  UnknownSchedulerError,
  createScheduler,
  resolveScheduler,
  type SamplerId,
} from "./index.js";
import { float32 } from "../tensor/tensor.js";
import type { Noise, Scheduler, SchedulerConfig } from "./types.js";

const families = goldenJson<{ families: Record<string, { base_config: SchedulerConfig }> }>("diffusion", "schedulers", "index.json").families;
const SD15 = families["sd15"]!.base_config;

const NAME_TABLE: ReadonlyArray<readonly [string, SamplerId]> = [
  ["Euler", "euler"],
  ["euler", "euler"],
  ["EULER A", "euler_a"],
  ["Euler a", "euler_a"],
  ["euler_a", "euler_a"],
  ["Euler Karras", "euler_karras"],
  ["EulerDiscreteScheduler", "euler"],
  ["eulerancestraldiscretescheduler", "euler_a"],
  ["DPM++", "dpmpp_2m"],
  ["DPM++ Karras", "dpmpp_2m_karras"],
  ["DPM++ 2M", "dpmpp_2m"],
  ["DPM++ 2M Karras", "dpmpp_2m_karras"],
  ["dpm++ 2m karras", "dpmpp_2m_karras"],
  ["DPM++  2M   Karras", "dpmpp_2m_karras"],
  ["DPM++ 2M SDE", "dpmpp_2m_sde"],
  ["DPM++ 2M SDE Karras", "dpmpp_2m_sde_karras"],
  ["DPM++ 3M", "dpmpp_3m"],
  ["DPM++ 3M Karras", "dpmpp_3m_karras"],
  ["DPM++ 2M Uniform", "dpmpp_2m"],
  ["DPMSolverMultistepScheduler", "dpmpp_2m"],
  ["DPMSolverSinglestepScheduler", "dpmpp_singlestep"],
  ["dpmpp_singlestep_karras", "dpmpp_singlestep_karras"],
  ["DDIM", "ddim"],
  ["DDIMScheduler", "ddim"],
  ["DDPMScheduler", "ddpm"],
  ["PNDMScheduler", "pndm"],
  ["PLMS", "pndm"],
  ["LMS", "lms"],
  ["LMS Karras", "lms_karras"],
  ["LMSDiscreteScheduler", "lms"],
  ["Heun", "heun"],
  ["Heun Karras", "heun_karras"],
  ["HeunDiscreteScheduler", "heun"],
  ["KDPM2DiscreteScheduler", "kdpm2"],
  ["DPM2 Karras", "kdpm2_karras"],
  ["KDPM2AncestralDiscreteScheduler", "kdpm2_a"],
  ["DPM2 a", "kdpm2_a"],
  ["UniPC", "unipc"],
  ["UniPCMultistepScheduler", "unipc"],
  ["UniPC Karras", "unipc_karras"],
  ["UniPC 2M", "unipc"],
  ["UniPC 2M Karras", "unipc_karras"],
  ["DEISMultistepScheduler", "deis"],
  ["LCM", "lcm"],
  ["LCMScheduler", "lcm"],
];

const REFUSED = [
  "DPM++ SDE",
  "DPM++ SDE Karras",
  "DPMSolverMultistepInverse",
  "EDMEulerScheduler",
  "EDMDPMSolverMultistepScheduler",
  "FlowMatchEulerDiscreteScheduler",
  "TCDScheduler",
  "IPNDMScheduler",
  "IPNDM Uniform",
  "DPM++ 2M Beta",
  "Euler Exponential",
  "DPM++ Uniform Karras",
  "DPM++ 3M SDE Uniform",
  "UniPC 3M Karras",
];

describe("resolveScheduler", () => {
  it.each(NAME_TABLE)("%s → %s", (name, id) => {
    const c = resolveScheduler(name, SD15);
    expect(c.id).toBe(id);
    expect(c.factory).toBe(SAMPLERS[id].factory);
    expect(c.overrides).toEqual(SAMPLERS[id].overrides);
  });

  it("every sampler id resolves to itself and is listed as accepted", () => {
    for (const id of SAMPLER_IDS) {
      expect(resolveScheduler(id, SD15).id).toBe(id);
      expect(ACCEPTED_SCHEDULER_NAMES).toContain(id);
    }
  });

  it("overrides carry the flags that make a sampler", () => {
    expect(resolveScheduler("DPM++ 2M SDE Karras", SD15).overrides).toMatchObject({ algorithm_type: "sde-dpmsolver++", use_karras_sigmas: true });
    expect(resolveScheduler("DPM++ 3M", SD15).overrides).toMatchObject({ solver_order: 3, use_karras_sigmas: false });
    expect(resolveScheduler("Euler", { ...SD15, use_karras_sigmas: true }).overrides).toEqual({ use_karras_sigmas: false });
  });

  it.each(REFUSED)("refuses %s with a reason", (name) => {
    let err: unknown;
    try {
      resolveScheduler(name, SD15);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnknownSchedulerError);
    const u = err as UnknownSchedulerError;
    expect(u.reason).toBeTypeOf("string");
    expect(u.accepted).toBe(ACCEPTED_SCHEDULER_NAMES);
    expect(u.message).toContain(name);
  });

  it("unknown names throw UnknownSchedulerError listing the accepted names", () => {
    expect(() => resolveScheduler("Warp Drive", SD15)).toThrow(UnknownSchedulerError);
    expect(() => resolveScheduler("Warp Drive", SD15)).toThrow(/DPM\+\+ 2M Karras/);
  });

  it("Default, empty and absent use the model's own class and flags with no overrides", () => {
    for (const name of [undefined, "", "Default", "default"]) {
      expect(resolveScheduler(name, SD15)).toMatchObject({ id: "pndm", overrides: {} });
    }
    const dpmKarras = { ...SD15, _class_name: "DPMSolverMultistepScheduler", use_karras_sigmas: true };
    expect(resolveScheduler("Default", dpmKarras).id).toBe("dpmpp_2m_karras");
    expect(resolveScheduler("Default", { ...dpmKarras, algorithm_type: "sde-dpmsolver++" }).id).toBe("dpmpp_2m_sde_karras");
    expect(resolveScheduler("Default", { ...dpmKarras, solver_order: 3 }).id).toBe("dpmpp_3m_karras");
    expect(resolveScheduler(undefined, families["sdxl"]!.base_config).id).toBe("euler");
    expect(() => resolveScheduler("Default", { ...SD15, _class_name: "FlowMatchEulerDiscreteScheduler" })).toThrow(UnknownSchedulerError);
  });
});

/** A short deterministic loop: eps = 0.1·x + sin(t)/20, noise draws a fixed ramp scaled by the draw count. */
function trajectory(s: Scheduler): number[] {
  let draws = 0;
  const noise: Noise = { randn: (shape) => float32(shape, Float32Array.from({ length: 4 }, (_, k) => (k - 1.5) * 0.3 + 0.01 * ++draws)) };
  let x = float32([1, 4], Float32Array.from([0.9, -1.2, 0.4, 1.7]).map((v) => v * s.initNoiseSigma));
  const out: number[] = [];
  s.timesteps.forEach((t, i) => {
    const xin = s.scaleModelInput(x, i);
    const eps = float32([1, 4], xin.data.map((v) => 0.1 * v + Math.sin(t) / 20));
    x = s.step(eps, i, x, noise).prevSample;
    out.push(...x.data);
  });
  return out;
}

describe("createScheduler", () => {
  // Golden cases are `Class.from_config(family_config, **kwargs)` and their JSON `config` is the result. Our id +
  // the family base config must build the same sampler as the class factory given that case config (the golden
  // case names are our ids); the samplers' own accuracy is checked by the golden suites.
  for (const [family, { base_config }] of Object.entries(families)) {
    for (const id of SAMPLER_IDS) {
      for (const c of schedulerCases(family, id)) {
        it(`${family} ${id} n${c.steps}: id + base config = the case's class and config`, () => {
          expect(c.json.class).toBe(SAMPLERS[id].className);
          const ours = createScheduler(id, base_config, c.steps);
          const direct = SAMPLERS[id].factory(c.json.config, c.steps);
          expect(ours.timesteps).toEqual(direct.timesteps);
          expect(ours.sigmas).toEqual(direct.sigmas);
          expect(ours.initNoiseSigma).toBe(direct.initNoiseSigma);
          // and the same trajectory on a small deterministic loop (catches algorithm / order / flag differences)
          expect(trajectory(ours)).toEqual(trajectory(direct));
        });
      }
    }
  }

  it("applies the model config (v_prediction from an SD2-style config reaches the sampler)", () => {
    const v = createScheduler("DPM++ 2M Karras", { ...SD15, prediction_type: "v_prediction" }, 2);
    const e = createScheduler("DPM++ 2M Karras", SD15, 2);
    const x = { dtype: "float32" as const, shape: [1, 2], data: Float32Array.from([1, 2]) };
    const m = { dtype: "float32" as const, shape: [1, 2], data: Float32Array.from([0.5, -0.5]) };
    const noise = { randn: () => { throw new Error("no noise"); } };
    expect([...v.step(m, 0, x, noise).prevSample.data]).not.toEqual([...e.step(m, 0, x, noise).prevSample.data]);
  });
});
