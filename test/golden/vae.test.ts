// AutoencoderKL encoder/decoder graphs vs diffusers 0.27.2 on the tiny random VAEs (README section 2) and the
// img2img encoder golden (section 8). Tolerances abs 1e-4 (README: VAE `decoded` and `latent_*`).
import { afterAll, describe, it } from "vitest";
import { loadComponentFolder, type Component } from "../../src/checkpoint/model.js";
import type { SafetensorsFile } from "../../src/checkpoint/safetensors.js";
import {
  buildVAEDecoderGraph,
  buildVAEEncoderGraph,
  vaeConfigFromJson,
  VAE_DECODER_INPUT,
  VAE_DECODER_OUTPUT,
  VAE_ENCODER_INPUT,
  VAE_ENCODER_OUTPUTS,
} from "../../src/models/vae.js";
import { createSession, type Session } from "../../src/runtime/index.js";
import { float32, type Tensor } from "../../src/tensor/tensor.js";
import { expectClose, goldenPath, goldenTensor } from "../helpers/golden.js";

const ATOL = 1e-4;

const files: SafetensorsFile[] = [];
const sessions: Session[] = [];
afterAll(async () => {
  for (const s of sessions) await s.release();
  for (const f of files) f.close();
});

function component(folder: string): Component {
  const c = loadComponentFolder(goldenPath("diffusion", folder), files);
  if (c === undefined) throw new Error(`no component at ${folder}`);
  return c;
}

async function open(built: Parameters<typeof createSession>[0]): Promise<Session> {
  const s = await createSession(built);
  sessions.push(s);
  return s;
}

describe.each(["sd1", "sdxl"])("VAE %s", (name) => {
  const io = `diffusion/models/vae_${name}_io.safetensors`;
  const folder = `models/vae_${name}`;

  it("decodes latents / scaling_factor (decoded) and the encoder mean (decode_of_mean)", async () => {
    const c = component(folder);
    const config = vaeConfigFromJson(c.config);
    const decoder = await open(buildVAEDecoderGraph(config, c.weights));
    const latents = goldenTensor(io, "latents").data as Float32Array;
    const unscaled = float32([1, 4, 8, 8], latents.map((v) => v / config.scalingFactor));
    const out = await decoder.run({ [VAE_DECODER_INPUT]: unscaled });
    expectClose(out[VAE_DECODER_OUTPUT]!, goldenTensor(io, "decoded"), { atol: ATOL, label: "decoded" });
    const ofMean = await decoder.run({ [VAE_DECODER_INPUT]: goldenTensor(io, "latent_mean") });
    expectClose(ofMean[VAE_DECODER_OUTPUT]!, goldenTensor(io, "decode_of_mean"), { atol: ATOL, label: "decode_of_mean" });
  });

  it("decodes pipeline latents when the graph applies the scaling (applyScaling)", async () => {
    const c = component(folder);
    const decoder = await open(buildVAEDecoderGraph(vaeConfigFromJson(c.config), c.weights, { applyScaling: true }));
    const out = await decoder.run({ [VAE_DECODER_INPUT]: goldenTensor(io, "latents") });
    expectClose(out[VAE_DECODER_OUTPUT]!, goldenTensor(io, "decoded"), { atol: ATOL, label: "decoded (in-graph scaling)" });
  });

  it("encodes encode_input to latent mean / std / logvar", async () => {
    const c = component(folder);
    const encoder = await open(buildVAEEncoderGraph(vaeConfigFromJson(c.config), c.weights));
    const out = await encoder.run({ [VAE_ENCODER_INPUT]: goldenTensor(io, "encode_input") });
    expectClose(out[VAE_ENCODER_OUTPUTS.mean]!, goldenTensor(io, "latent_mean"), { atol: ATOL, label: "latent_mean" });
    expectClose(out[VAE_ENCODER_OUTPUTS.std]!, goldenTensor(io, "latent_std"), { atol: ATOL, label: "latent_std" });
    expectClose(out[VAE_ENCODER_OUTPUTS.logvar]!, goldenTensor(io, "latent_logvar"), { atol: ATOL, label: "latent_logvar" });
  });
});

describe("VAE encoder on the img2img images (img2img/vae_encode)", () => {
  const io = "diffusion/img2img/vae_encode.safetensors";
  it("matches mean / std / logvar of both PNG images, encoded as a batch of 2", async () => {
    const c = component("models/vae_sd1");
    const encoder = await open(buildVAEEncoderGraph(vaeConfigFromJson(c.config), c.weights));
    const out: Record<string, Tensor> = await encoder.run({ [VAE_ENCODER_INPUT]: goldenTensor(io, "image") });
    expectClose(out[VAE_ENCODER_OUTPUTS.mean]!, goldenTensor(io, "latent_mean"), { atol: ATOL, label: "latent_mean" });
    expectClose(out[VAE_ENCODER_OUTPUTS.std]!, goldenTensor(io, "latent_std"), { atol: ATOL, label: "latent_std" });
    expectClose(out[VAE_ENCODER_OUTPUTS.logvar]!, goldenTensor(io, "latent_logvar"), { atol: ATOL, label: "latent_logvar" });
  });
});
