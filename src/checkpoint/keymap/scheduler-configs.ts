// The families' published `scheduler/scheduler_config.json` values, as data. A single file carries no scheduler
// config, so it gets its family's, with the prediction type detected for that file.
import type { JsonConfig } from "../model.js";
import type { Family } from "../model.js";

const SCALED_LINEAR = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: "scaled_linear", num_train_timesteps: 1000, trained_betas: null };

/** runwayml/stable-diffusion-v1-5 */
export const SD15_SCHEDULER: JsonConfig = {
  _class_name: "PNDMScheduler",
  ...SCALED_LINEAR,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  clip_sample: false,
};

/** stabilityai/stable-diffusion-2-1 (768-v) */
export const SD21_SCHEDULER: JsonConfig = {
  _class_name: "DDIMScheduler",
  ...SCALED_LINEAR,
  clip_sample: false,
  prediction_type: "v_prediction",
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
};

/** stabilityai/stable-diffusion-xl-base-1.0 (the refiner ships the same values) */
export const SDXL_SCHEDULER: JsonConfig = {
  _class_name: "EulerDiscreteScheduler",
  ...SCALED_LINEAR,
  clip_sample: false,
  interpolation_type: "linear",
  prediction_type: "epsilon",
  sample_max_value: 1.0,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  timestep_spacing: "leading",
  use_karras_sigmas: false,
};

export type PredictionType = "epsilon" | "v_prediction";

/** The family's scheduler config with the detected prediction type (and zero-terminal-SNR betas when marked). */
export function familySchedulerConfig(family: Family, predictionType: PredictionType, zeroTerminalSnr = false): JsonConfig {
  const base = family === "sd1" ? SD15_SCHEDULER : family === "sd2" ? SD21_SCHEDULER : SDXL_SCHEDULER;
  return { ...base, prediction_type: predictionType, ...(zeroTerminalSnr && { rescale_betas_zero_snr: true, timestep_spacing: "trailing" }) };
}
