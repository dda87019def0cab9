// Image → latents as diffusers' retrieve_latents(vae.encode(x), generator) · scaling_factor:
// `(mean + std · eps) · scaling_factor`, with eps one draw of the pipeline's generator.
import { VAE_ENCODER_INPUT, VAE_ENCODER_OUTPUTS } from "../models/vae.js";
import type { Noise } from "../schedulers/index.js";
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import type { Pipeline } from "./pipeline.js";

const fr = Math.fround;

export interface EncodedLatents {
  /** [1, C, h, w], already × scaling_factor. */
  latents: Float32Tensor;
  /** The generator draw used (diffusers' `latent_dist.sample` noise). */
  eps: Float32Tensor;
}

export async function encodeLatents(pipeline: Pipeline, image: Float32Tensor /* [1, 3, H, W] */, generator: Noise): Promise<EncodedLatents> {
  const encoder = await pipeline.vaeEncoder();
  const out = await encoder.run({ [VAE_ENCODER_INPUT]: image });
  const mean = out[VAE_ENCODER_OUTPUTS.mean] as Float32Tensor; // [1, C, h, w]
  const std = out[VAE_ENCODER_OUTPUTS.std] as Float32Tensor; // [1, C, h, w]
  const eps = generator.randn(mean.shape);
  const scale = fr(pipeline.vaeConfig.scalingFactor);
  const latents = float32(mean.shape, mean.data.map((m, k) => fr(scale * fr(m + fr(std.data[k]! * eps.data[k]!)))));
  return { latents, eps };
}
