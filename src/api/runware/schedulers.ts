// Scheduler names Runware accepts for Stable Diffusion models (spec §2.4), matched case-insensitively.
export const SCHEDULER_NAMES = [
  "Default", "DDIM", "DDIMScheduler", "DDPMScheduler", "DEISMultistepScheduler", "DPMSolverSinglestepScheduler",
  "DPMSolverMultistepScheduler", "DPMSolverMultistepInverse", "DPM++", "DPM++ Karras", "DPM++ 2M", "DPM++ 2M Karras",
  "DPM++ 2M SDE Karras", "DPM++ 2M SDE", "DPM++ 3M", "DPM++ 3M Karras", "DPM++ SDE Karras", "DPM++ SDE",
  "EDMEulerScheduler", "EDMDPMSolverMultistepScheduler", "Euler", "EulerDiscreteScheduler", "Euler Karras", "Euler a",
  "EulerAncestralDiscreteScheduler", "FlowMatchEulerDiscreteScheduler", "Heun", "HeunDiscreteScheduler", "Heun Karras",
  "IPNDMScheduler", "KDPM2DiscreteScheduler", "KDPM2AncestralDiscreteScheduler", "LCM", "LCMScheduler", "LMS",
  "LMSDiscreteScheduler", "LMS Karras", "PNDMScheduler", "TCDScheduler", "UniPC", "UniPCMultistepScheduler",
  "UniPC Karras", "UniPC 2M", "UniPC 2M Karras", "UniPC 3M", "UniPC 3M Karras",
  "Euler Beta", "Euler Exponential", "DPM++ Beta", "DPM++ Exponential", "DPM++ SDE Beta", "DPM++ SDE Exponential",
  "DPM++ 2M Beta", "DPM++ 2M Exponential", "DPM++ 2M SDE Beta", "DPM++ 2M SDE Exponential", "DPM++ 3M Beta",
  "DPM++ 3M Exponential", "DPM++ 2M Uniform", "DPM++ 2M SDE Uniform", "DPM++ 3M SDE Uniform", "DPM++ 3M Uniform",
  "DPM++ Uniform", "DPM++ Uniform Beta", "DPM++ Uniform Exponential", "DPM++ Uniform Karras", "IPNDM Uniform",
  "IPNDM Uniform Beta", "IPNDM Uniform Exponential", "IPNDM Uniform Karras", "UniPC 2M Uniform", "UniPC 3M Uniform",
  "UniPC Uniform", "UniPC Uniform Beta", "UniPC Uniform Exponential", "UniPC Uniform Karras",
] as const;

const BY_LOWER = new Map<string, string>(SCHEDULER_NAMES.map((n) => [n.toLowerCase(), n]));

/** The canonical spelling of a Runware scheduler name, or undefined when unknown. */
export function canonicalScheduler(name: string): string | undefined {
  return BY_LOWER.get(name.trim().toLowerCase());
}
