// Image → latents as diffusers' retrieve_latents(vae.encode(x), generator) · scaling_factor:
// `(mean + std · eps) · scaling_factor`, with eps one draw of the pipeline's generator.
import type { Noise } from "../schedulers/index.js";
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import type { Pipeline } from "./pipeline.js";
import { encodeVAE, type VAETilingMode } from "./vae-tiling.js";

const fr = Math.fround;

export interface EncodedLatents {
  /** [1, C, h, w], already × scaling_factor. */
  latents: Float32Tensor;
  /** The generator draw used (diffusers' `latent_dist.sample` noise). */
  eps: Float32Tensor;
}

/** `vaeTiling`: encode in overlapping tiles (vae-tiling.ts) — "auto" only above 768 × 768 pixels. */
export async function encodeLatents(pipeline: Pipeline, image: Float32Tensor /* [1, 3, H, W] */, generator: Noise, vaeTiling: VAETilingMode = "auto"): Promise<EncodedLatents> {
  const encoder = await pipeline.vaeEncoder();
  const { mean, std } = await encodeVAE(encoder, image, { mode: vaeTiling, scaleFactor: pipeline.vaeScaleFactor }); // each [1, C, h, w]
  const eps = generator.randn(mean.shape);
  const scale = fr(pipeline.vaeConfig.scalingFactor);
  const latents = float32(mean.shape, mean.data.map((m, k) => fr(scale * fr(m + fr(std.data[k]! * eps.data[k]!)))));
  return { latents, eps };
}
