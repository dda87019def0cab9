// Inpainting as diffusers' StableDiffusionInpaintPipeline, for both kinds of UNet:
//  * 9 channels (inpainting models): every step the UNet sees [scaled latents, mask, masked-image latents];
//  * 4 channels (ordinary models): after every step the known region is replaced by the init latents noised to
//    the NEXT step's level (the clean latents after the last step), `(1 − m) · proper + m · latents`.
// Start latents: pure noise × init_noise_sigma at strength 1.0, else add_noise(image latents) at the first kept step.
// Random draws, in diffusers' order: [image eps if encoded], noise, masked-image eps (drawn for 4-channel UNets too,
// which never use it), then the sampler's own draws.
import { float32, type Float32Tensor } from "../tensor/tensor.js";
import { concatChannels } from "./denoise.js";
import { encodeLatents } from "./encode-latents.js";
import {
  checkImageRequest,
  denoiseFromStart,
  prepareImageRun,
  type ImageGenerateContext,
  type ImageToImageResult,
  type InpaintRequest,
} from "./image-request.js";
import type { Pipeline } from "./pipeline.js";
import { decodeSeedImage, downsampleMaskNearest, maskedImage, prepareMask, seedImageTensor } from "./prepare-image.js";
import { SeedImageError } from "./seed-image-error.js";

const fr = Math.fround;

export type InpaintUNetKind = "concat" | "blend";

/** 9-channel UNets take mask + masked-image latents as input ("concat"); plain ones get the blend. */
export function inpaintUNetKind(inChannels: number, latentChannels: number): InpaintUNetKind {
  if (inChannels === latentChannels) return "blend";
  if (inChannels === 2 * latentChannels + 1) return "concat";
  throw new SeedImageError("invalidMaskImage", `a UNet with ${inChannels} input channels can neither inpaint (${2 * latentChannels + 1}) nor blend (${latentChannels})`);
}

/** `(1 − m) · known + m · generated`, m [1, 1, h, w] broadcast over channels. */
export function blendKnown(known: Float32Tensor, generated: Float32Tensor, mask: Float32Tensor): Float32Tensor {
  const plane = mask.data.length;
  const out = new Float32Array(generated.data.length);
  for (let k = 0; k < out.length; k++) {
    const m = mask.data[k % plane]!;
    out[k] = fr(fr(fr(1 - m) * known.data[k]!) + fr(m * generated.data[k]!));
  }
  return float32(generated.shape, out); // [1, C, h, w]
}

export async function inpaint(pipeline: Pipeline, req: InpaintRequest, ctx: ImageGenerateContext = {}): Promise<ImageToImageResult> {
  checkImageRequest(pipeline, req);
  const kind = inpaintUNetKind(pipeline.unetConfig.inChannels, pipeline.vaeConfig.latentChannels);
  const seed = await decodeSeedImage(req.seedImage);
  const initImage = await seedImageTensor(seed, req.width, req.height); // [1, 3, H, W]
  const mask = await prepareMask(req.maskImage, seed, req.width, req.height); // [1, 1, H, W]
  const run = await prepareImageRun(pipeline, req, ctx);
  const { scheduler, generator, latentShape } = run;
  const { startIndex } = run.schedule;
  const strengthMax = req.strength === 1;

  const imageLatents = kind === "blend" || !strengthMax ? (await encodeLatents(pipeline, initImage, generator, req.vaeTiling)).latents : undefined;
  const noise = generator.randn(latentShape); // [1, C, h, w]
  const startLatents = strengthMax
    ? float32(latentShape, noise.data.map((v) => fr(v * fr(scheduler.initNoiseSigma))))
    : scheduler.addNoise(imageLatents!, noise, startIndex);

  const maskLatents = downsampleMaskNearest(mask, latentShape[2]!, latentShape[3]!); // [1, 1, h, w]
  const masked = maskedImage(initImage, mask); // [1, 3, H, W]
  const maskedImageLatents = kind === "concat" ? (await encodeLatents(pipeline, masked, generator, req.vaeTiling)).latents : undefined;
  if (kind === "blend") generator.randn(latentShape); // diffusers encodes the masked image anyway: its eps is drawn

  const last = scheduler.timesteps.length - 1;
  return {
    ...(await denoiseFromStart(pipeline, req, run, ctx, startLatents, {
      ...(maskedImageLatents !== undefined && { extraChannels: concatChannels(maskLatents, maskedImageLatents) }), // [1, 1 + C, h, w]
      ...(kind === "blend" && {
        afterStep: (x: Float32Tensor, i: number) => blendKnown(i < last ? scheduler.addNoise(imageLatents!, noise, i + 1) : imageLatents!, x, maskLatents),
      }),
    })),
    ...(imageLatents !== undefined && { imageLatents }),
    maskLatents,
    ...(maskedImageLatents !== undefined && { maskedImageLatents }),
  };
}
