// The sampler registry: our sampler ids → diffusers class factory + config overrides, and the request names
// (Runware, diffusers class names, A1111 labels, our ids) → one of our ids. docs/schedulers.md has the table.
import { ddim } from "./ddim.js";
import { ddpm } from "./ddpm.js";
import { deis } from "./deis.js";
import { dpmSolverMultistep } from "./dpm-solver-multistep.js";
import { dpmSolverSinglestep } from "./dpm-solver-singlestep.js";
import { eulerAncestral } from "./euler-ancestral.js";
import { eulerDiscrete } from "./euler.js";
import { heun } from "./heun.js";
import { kdpm2Ancestral } from "./kdpm2-ancestral.js";
import { kdpm2 } from "./kdpm2.js";
import { lcm } from "./lcm.js";
import { lms } from "./lms.js";
import { pndm } from "./pndm.js";
import type { Scheduler, SchedulerConfig, SchedulerFactory } from "./types.js";
import { unipc } from "./unipc.js";

export type { Noise, Scheduler, SchedulerConfig, SchedulerFactory, StepResult } from "./types.js";

export const SAMPLER_IDS = [
  "euler",
  "euler_a",
  "euler_karras",
  "dpmpp_2m",
  "dpmpp_2m_karras",
  "dpmpp_2m_sde",
  "dpmpp_2m_sde_karras",
  "dpmpp_3m",
  "dpmpp_3m_karras",
  "dpmpp_singlestep",
  "dpmpp_singlestep_karras",
  "ddim",
  "ddpm",
  "pndm",
  "lms",
  "lms_karras",
  "heun",
  "heun_karras",
  "kdpm2",
  "kdpm2_karras",
  "kdpm2_a",
  "unipc",
  "unipc_karras",
  "deis",
  "lcm",
] as const;

export type SamplerId = (typeof SAMPLER_IDS)[number];

export interface SchedulerChoice {
  id: SamplerId;
  factory: SchedulerFactory;
  overrides: Partial<SchedulerConfig>;
}

interface SamplerEntry {
  className: string;
  factory: SchedulerFactory;
  overrides: Partial<SchedulerConfig>;
}

const karras = (on: boolean): Partial<SchedulerConfig> => ({ use_karras_sigmas: on });
const dpm = (algorithm: string, order: number, k: boolean): Partial<SchedulerConfig> => ({ algorithm_type: algorithm, solver_order: order, ...karras(k) });

/**
 * Each id = a diffusers class + the flags that make it that sampler. Flags are set explicitly both ways
 * (e.g. `euler` sets use_karras_sigmas false) so a model config's own flags cannot turn one sampler into another.
 */
export const SAMPLERS: Readonly<Record<SamplerId, SamplerEntry>> = {
  euler: { className: "EulerDiscreteScheduler", factory: eulerDiscrete, overrides: karras(false) },
  euler_karras: { className: "EulerDiscreteScheduler", factory: eulerDiscrete, overrides: karras(true) },
  euler_a: { className: "EulerAncestralDiscreteScheduler", factory: eulerAncestral, overrides: {} },
  dpmpp_2m: { className: "DPMSolverMultistepScheduler", factory: dpmSolverMultistep, overrides: dpm("dpmsolver++", 2, false) },
  dpmpp_2m_karras: { className: "DPMSolverMultistepScheduler", factory: dpmSolverMultistep, overrides: dpm("dpmsolver++", 2, true) },
  dpmpp_2m_sde: { className: "DPMSolverMultistepScheduler", factory: dpmSolverMultistep, overrides: dpm("sde-dpmsolver++", 2, false) },
  dpmpp_2m_sde_karras: { className: "DPMSolverMultistepScheduler", factory: dpmSolverMultistep, overrides: dpm("sde-dpmsolver++", 2, true) },
  dpmpp_3m: { className: "DPMSolverMultistepScheduler", factory: dpmSolverMultistep, overrides: dpm("dpmsolver++", 3, false) },
  dpmpp_3m_karras: { className: "DPMSolverMultistepScheduler", factory: dpmSolverMultistep, overrides: dpm("dpmsolver++", 3, true) },
  dpmpp_singlestep: { className: "DPMSolverSinglestepScheduler", factory: dpmSolverSinglestep, overrides: dpm("dpmsolver++", 2, false) },
  dpmpp_singlestep_karras: { className: "DPMSolverSinglestepScheduler", factory: dpmSolverSinglestep, overrides: dpm("dpmsolver++", 2, true) },
  ddim: { className: "DDIMScheduler", factory: ddim, overrides: {} },
  ddpm: { className: "DDPMScheduler", factory: ddpm, overrides: {} },
  pndm: { className: "PNDMScheduler", factory: pndm, overrides: { skip_prk_steps: true } },
  lms: { className: "LMSDiscreteScheduler", factory: lms, overrides: karras(false) },
  lms_karras: { className: "LMSDiscreteScheduler", factory: lms, overrides: karras(true) },
  heun: { className: "HeunDiscreteScheduler", factory: heun, overrides: karras(false) },
  heun_karras: { className: "HeunDiscreteScheduler", factory: heun, overrides: karras(true) },
  kdpm2: { className: "KDPM2DiscreteScheduler", factory: kdpm2, overrides: karras(false) },
  kdpm2_karras: { className: "KDPM2DiscreteScheduler", factory: kdpm2, overrides: karras(true) },
  kdpm2_a: { className: "KDPM2AncestralDiscreteScheduler", factory: kdpm2Ancestral, overrides: karras(false) },
  unipc: { className: "UniPCMultistepScheduler", factory: unipc, overrides: { solver_order: 2, ...karras(false) } },
  unipc_karras: { className: "UniPCMultistepScheduler", factory: unipc, overrides: { solver_order: 2, ...karras(true) } },
  deis: { className: "DEISMultistepScheduler", factory: deis, overrides: { solver_order: 2, ...karras(false) } },
  lcm: { className: "LCMScheduler", factory: lcm, overrides: {} },
};

/** Request names we accept (matched case-insensitively, runs of spaces/underscores/hyphens ignored) → our id. */
const NAMES: ReadonlyArray<readonly [string, SamplerId]> = [
  // Runware / A1111 labels
  ["Euler", "euler"],
  ["Euler Karras", "euler_karras"],
  ["Euler a", "euler_a"],
  ["Euler Ancestral", "euler_a"],
  ["DPM++", "dpmpp_2m"],
  ["DPM++ Karras", "dpmpp_2m_karras"],
  ["DPM++ 2M", "dpmpp_2m"],
  ["DPM++ 2M Karras", "dpmpp_2m_karras"],
  ["DPM++ 2M SDE", "dpmpp_2m_sde"],
  ["DPM++ 2M SDE Karras", "dpmpp_2m_sde_karras"],
  ["DPM++ 3M", "dpmpp_3m"],
  ["DPM++ 3M Karras", "dpmpp_3m_karras"],
  ["DPM++ Singlestep", "dpmpp_singlestep"],
  ["DPM++ Singlestep Karras", "dpmpp_singlestep_karras"],
  ["DPM++ Uniform", "dpmpp_2m"],
  ["DPM++ 2M Uniform", "dpmpp_2m"],
  ["DPM++ 2M SDE Uniform", "dpmpp_2m_sde"],
  ["DPM++ 3M Uniform", "dpmpp_3m"],
  ["DDIM", "ddim"],
  ["DDPM", "ddpm"],
  ["PNDM", "pndm"],
  ["PLMS", "pndm"],
  ["LMS", "lms"],
  ["LMS Karras", "lms_karras"],
  ["Heun", "heun"],
  ["Heun Karras", "heun_karras"],
  ["DPM2", "kdpm2"],
  ["DPM2 Karras", "kdpm2_karras"],
  ["DPM2 a", "kdpm2_a"],
  ["UniPC", "unipc"],
  ["UniPC Karras", "unipc_karras"],
  ["UniPC 2M", "unipc"],
  ["UniPC 2M Karras", "unipc_karras"],
  ["UniPC Uniform", "unipc"],
  ["UniPC 2M Uniform", "unipc"],
  ["DEIS", "deis"],
  ["LCM", "lcm"],
  // diffusers class names (their defaults: no Karras, DPM++ order 2)
  ["EulerDiscreteScheduler", "euler"],
  ["EulerAncestralDiscreteScheduler", "euler_a"],
  ["DPMSolverMultistepScheduler", "dpmpp_2m"],
  ["DPMSolverSinglestepScheduler", "dpmpp_singlestep"],
  ["DDIMScheduler", "ddim"],
  ["DDPMScheduler", "ddpm"],
  ["PNDMScheduler", "pndm"],
  ["LMSDiscreteScheduler", "lms"],
  ["HeunDiscreteScheduler", "heun"],
  ["KDPM2DiscreteScheduler", "kdpm2"],
  ["KDPM2AncestralDiscreteScheduler", "kdpm2_a"],
  ["UniPCMultistepScheduler", "unipc"],
  ["DEISMultistepScheduler", "deis"],
  ["LCMScheduler", "lcm"],
  // our own ids
  ...SAMPLER_IDS.map((id) => [id, id] as const),
];

/** Names we recognise but cannot honour, with the reason given to the caller. */
const REFUSED: ReadonlyArray<readonly [RegExp, string]> = [
  [/^dpm\+\+sde/, "DPM++ SDE (DPMSolverSDEScheduler) needs the torchsde Brownian tree, which we do not have"],
  [/^dpmsolversdescheduler$/, "DPMSolverSDEScheduler needs the torchsde Brownian tree, which we do not have"],
  [/^dpmsolvermultistepinverse/, "DPMSolverMultistepInverse inverts images to noise; it is not a sampler"],
  [/^edm/, "EDM schedulers are for EDM-parameterised models (e.g. Playground v2.5), which we do not serve"],
  [/^flowmatch/, "flow-matching schedulers are for rectified-flow models (SD3, FLUX), which we do not serve"],
  [/^tcd/, "TCD (TCDScheduler) is not implemented"],
  [/^ipndm/, "IPNDM is not implemented"],
  [/^dpm\+\+3msde/, "DPM++ 3M SDE has no third-order SDE update in diffusers 0.27.2"],
  [/^unipc3m/, "UniPC 3M (solver_order 3) is not verified against the reference and not offered"],
  [/(beta|exponential)$/, "beta and exponential sigma schedules do not exist in diffusers 0.27.2"],
  [/uniform(karras|beta|exponential)$/, "uniform spacing combined with another sigma schedule is contradictory"],
  [/^dpm\+\+2sa|^dpmfast|^dpmadaptive|^restart/, "this A1111 sampler has no diffusers scheduler"],
];

/** Lower-case, without spaces, underscores or hyphens: "DPM++ 2M Karras" → "dpm++2mkarras". */
function normalise(name: string): string {
  return name.toLowerCase().replace(/[\s_-]+/g, "");
}

const BY_NORMALISED = new Map<string, SamplerId>(NAMES.map(([name, id]) => [normalise(name), id]));

/** Every name `resolveScheduler` accepts (besides "Default"), in their canonical spelling. */
export const ACCEPTED_SCHEDULER_NAMES: readonly string[] = Object.freeze(["Default", ...new Set(NAMES.map(([name]) => name))]);

export class UnknownSchedulerError extends Error {
  readonly accepted: readonly string[] = ACCEPTED_SCHEDULER_NAMES;
  /** Why a recognised name is refused; undefined for names we do not know at all. */
  readonly reason: string | undefined;
  constructor(
    readonly schedulerName: string,
    reason?: string,
  ) {
    super(
      reason === undefined
        ? `Unknown scheduler "${schedulerName}". Accepted: ${ACCEPTED_SCHEDULER_NAMES.join(", ")}.`
        : `Unsupported scheduler "${schedulerName}": ${reason}. Accepted: ${ACCEPTED_SCHEDULER_NAMES.join(", ")}.`,
    );
    this.name = "UnknownSchedulerError";
    this.reason = reason;
  }
}

function choice(id: SamplerId, overrides: Partial<SchedulerConfig> = SAMPLERS[id].overrides): SchedulerChoice {
  return { id, factory: SAMPLERS[id].factory, overrides };
}

/** The id a model's own `scheduler_config.json` amounts to (class + flags); its config is used unchanged. */
export function samplerIdOfConfig(config: SchedulerConfig): SamplerId {
  const cls = config["_class_name"];
  if (typeof cls !== "string") throw new UnknownSchedulerError("Default", "the model's scheduler config has no _class_name");
  const k = config.use_karras_sigmas === true;
  switch (cls) {
    case "EulerDiscreteScheduler":
      return k ? "euler_karras" : "euler";
    case "EulerAncestralDiscreteScheduler":
      return "euler_a";
    case "DPMSolverMultistepScheduler": {
      const sde = config["algorithm_type"] === "sde-dpmsolver++";
      if (sde) return k ? "dpmpp_2m_sde_karras" : "dpmpp_2m_sde";
      if (config["solver_order"] === 3) return k ? "dpmpp_3m_karras" : "dpmpp_3m";
      return k ? "dpmpp_2m_karras" : "dpmpp_2m";
    }
    case "DPMSolverSinglestepScheduler":
      return k ? "dpmpp_singlestep_karras" : "dpmpp_singlestep";
    case "DDIMScheduler":
      return "ddim";
    case "DDPMScheduler":
      return "ddpm";
    case "PNDMScheduler":
      return "pndm";
    case "LMSDiscreteScheduler":
      return k ? "lms_karras" : "lms";
    case "HeunDiscreteScheduler":
      return k ? "heun_karras" : "heun";
    case "KDPM2DiscreteScheduler":
      return k ? "kdpm2_karras" : "kdpm2";
    case "KDPM2AncestralDiscreteScheduler":
      return "kdpm2_a";
    case "UniPCMultistepScheduler":
      return k ? "unipc_karras" : "unipc";
    case "DEISMultistepScheduler":
      return "deis";
    case "LCMScheduler":
      return "lcm";
    default: {
      const refused = REFUSED.find(([re]) => re.test(normalise(cls)));
      throw new UnknownSchedulerError(cls, refused?.[1] ?? "the model's own scheduler class is not implemented");
    }
  }
}

/**
 * A request's scheduler name → sampler. `undefined`, "" or "Default" = the model's own scheduler (its class and flags,
 * no overrides). Other names are matched case-insensitively; unknown or refused names throw UnknownSchedulerError.
 */
export function resolveScheduler(name: string | undefined, modelConfig: SchedulerConfig): SchedulerChoice {
  const key = normalise(name ?? "");
  if (key === "" || key === "default") return choice(samplerIdOfConfig(modelConfig), {});
  const id = BY_NORMALISED.get(key);
  if (id !== undefined) return choice(id);
  const refused = REFUSED.find(([re]) => re.test(key));
  throw new UnknownSchedulerError(name ?? "", refused?.[1]);
}

/** Resolves `name` and builds the sampler for `steps` from the model's config plus the sampler's overrides. */
export function createScheduler(name: string | undefined, modelConfig: SchedulerConfig, steps: number): Scheduler {
  const c = resolveScheduler(name, modelConfig);
  return c.factory({ ...modelConfig, ...c.overrides } as SchedulerConfig, steps);
}
