// img2img as diffusers' StableDiffusionImg2ImgPipeline: encode the seed image (draw 0 = the VAE sample's eps),
// draw the noise (draw 1), forward-noise the latents to the first kept timestep with the sampler's add_noise
// (also at strength 1.0), then the text-to-image loop from that index, and decode.
import { denoise } from "./denoise.js";
import { encodeLatents } from "./encode-latents.js";
import {
  checkImageRequest,
  loopHooks,
  prepareImageRun,
  type ImageGenerateContext,
  type ImageToImageRequest,
  type ImageToImageResult,
} from "./image-request.js";
import type { Pipeline } from "./pipeline.js";
import { decodeSeedImage, seedImageTensor } from "./prepare-image.js";
import { SeedImageError } from "./seed-image-error.js";
import { decodeLatents } from "./text-to-image.js";

export async function imageToImage(pipeline: Pipeline, req: ImageToImageRequest, ctx: ImageGenerateContext = {}): Promise<ImageToImageResult> {
  checkImageRequest(pipeline, req);
  const { inChannels } = pipeline.unetConfig;
  if (inChannels !== pipeline.vaeConfig.latentChannels) {
    throw new SeedImageError("invalidMaskImage", `this model's UNet takes ${inChannels} input channels (an inpainting model); it needs a maskImage`);
  }
  const seed = await decodeSeedImage(req.seedImage);
  const image = await seedImageTensor(seed, req.width, req.height); // [1, 3, H, W]
  const run = await prepareImageRun(pipeline, req, ctx);
  const { scheduler, generator } = run;
  const { startIndex } = run.schedule;

  const { latents: imageLatents } = await encodeLatents(pipeline, image, generator); // [1, C, h, w]
  const noise = generator.randn(run.latentShape);
  const startLatents = scheduler.addNoise(imageLatents, noise, startIndex);

  const latents = await denoise(pipeline, {
    scheduler,
    latents: startLatents,
    embeddings: run.embeddings,
    guidanceScale: req.guidanceScale,
    guidanceRescale: req.guidanceRescale ?? 0,
    timeIds: run.timeIds,
    noise: generator,
    startIndex,
    ...loopHooks(ctx),
  });
  const decoded = await decodeLatents(pipeline, latents);
  return {
    image: decoded,
    latents,
    embeddings: run.embeddings,
    timesteps: scheduler.timesteps.slice(startIndex),
    startIndex,
    startLatents,
    imageLatents,
  };
}
