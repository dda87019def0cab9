// A loaded pipeline: the text conditioner, the UNet and the VAE sessions of one model, opened once and reused
// for every request. The VAE decoder and encoder sessions open on first use.
import type { JsonConfig, PipelineModel } from "../checkpoint/model.js";
import { createConditioner, type Conditioner } from "../conditioning/index.js";
import { buildUNetGraph, unetConfigFromJson, type UNetConfig } from "../models/unet.js";
import { buildVAEDecoderGraph, buildVAEEncoderGraph, vaeConfigFromJson, type VAEConfig } from "../models/vae.js";
import { createSession, type Device, type Session, type SessionOptions } from "../runtime/index.js";
import type { SchedulerConfig } from "../schedulers/index.js";

export interface PipelineOptions {
  /** intra-op threads for every session (default: all cores). */
  threads?: number;
  /** ONNX Runtime execution provider for every session (default cpu; `cuda` needs the CUDA provider installed). */
  device?: Device;
}

/**
 * The UNet opens at ONNX Runtime's "extended" level, not "all": measured on a full-size SD1.5 UNet (docs/performance.md),
 * "all" (NCHWc convolution layouts) makes a CFG step ≈ 5 % faster but costs ≈ 6 s more at every open, 13 s on a new
 * checkpoint once its optimised graph is saved. The VAE (conv-heavy, small) and the text encoders keep "all".
 */
export const UNET_SESSION: SessionOptions = { optimizationLevel: "extended" };

/**
 * The VAE computes in float32 on every device: in float16 its decoder overflows to NaN (diffusers' `force_upcast`,
 * set for the SDXL VAE).
 */
export const VAE_SESSION: SessionOptions = { precision: "float32" };

/** The SD 1.5 scheduler config, used when a model brings none. */
export const SD15_SCHEDULER_CONFIG: SchedulerConfig = {
  _class_name: "PNDMScheduler",
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: "scaled_linear",
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  clip_sample: false,
};

export interface Pipeline {
  readonly model: PipelineModel;
  readonly unetConfig: UNetConfig;
  readonly vaeConfig: VAEConfig;
  readonly schedulerConfig: SchedulerConfig;
  readonly conditioner: Conditioner;
  readonly unet: Session;
  /** Pixels per latent cell (8 for SD): 2^(VAE levels − 1). */
  readonly vaeScaleFactor: number;
  vaeDecoder(): Promise<Session>;
  vaeEncoder(): Promise<Session>;
  release(): Promise<void>;
}

function need<T>(value: T | undefined, what: string, model: PipelineModel): T {
  if (value === undefined) throw new Error(`${model.source}: the model has no ${what}; it cannot generate images`);
  return value;
}

export async function openPipeline(model: PipelineModel, opts: PipelineOptions = {}): Promise<Pipeline> {
  const unetPart = need(model.unet, "UNet", model);
  const vaePart = need(model.vae, "VAE", model);
  const sessionOpts = { ...(opts.threads !== undefined && { threads: opts.threads }), ...(opts.device !== undefined && { device: opts.device }) };
  const unetConfig = unetConfigFromJson(unetPart.config);
  const vaeConfig = vaeConfigFromJson(vaePart.config);
  const conditioner = await createConditioner(model, sessionOpts);
  let unet: Session;
  try {
    unet = await createSession(buildUNetGraph(unetConfig, unetPart.weights), { ...UNET_SESSION, ...sessionOpts });
  } catch (e) {
    await conditioner.release();
    throw e;
  }
  let decoder: Promise<Session> | undefined;
  let encoder: Promise<Session> | undefined;
  return {
    model,
    unetConfig,
    vaeConfig,
    schedulerConfig: (model.schedulerConfig ?? SD15_SCHEDULER_CONFIG) as JsonConfig as SchedulerConfig,
    conditioner,
    unet,
    vaeScaleFactor: 2 ** (vaeConfig.blockOutChannels.length - 1),
    // the VAE computes in float32 on every device: float16 overflows to NaN in its decoder (diffusers' force_upcast)
    vaeDecoder: () => (decoder ??= createSession(buildVAEDecoderGraph(vaeConfig, vaePart.weights), { ...sessionOpts, ...VAE_SESSION })),
    vaeEncoder: () => (encoder ??= createSession(buildVAEEncoderGraph(vaeConfig, vaePart.weights), { ...sessionOpts, ...VAE_SESSION })),
    async release() {
      const sessions = [unet, ...(decoder ? [await decoder] : []), ...(encoder ? [await encoder] : [])];
      await Promise.all([conditioner.release(), ...sessions.map((s) => s.release())]);
    },
  };
}
