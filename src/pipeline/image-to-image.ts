// img2img as diffusers' StableDiffusionImg2ImgPipeline: encode the seed image (draw 0 = the VAE sample's eps),
// draw the noise (draw 1), forward-noise the latents to the first kept timestep with the sampler's add_noise
// (also at strength 1.0), then the text-to-image loop from that index, and decode.
import { encodeLatents } from "./encode-latents.js";
import {
  checkImageRequest,
  denoiseFromStart,
  prepareImageRun,
  type ImageGenerateContext,
  type ImageToImageRequest,
  type ImageToImageResult,
} from "./image-request.js";
import type { Pipeline } from "./pipeline.js";
import { decodeSeedImage, seedImageTensor } from "./prepare-image.js";
import { SeedImageError } from "./seed-image-error.js";

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

  const { latents: imageLatents } = await encodeLatents(pipeline, image, generator, req.vaeTiling); // [1, C, h, w]
  const noise = generator.randn(run.latentShape);
  const startLatents = scheduler.addNoise(imageLatents, noise, startIndex);

  return { ...(await denoiseFromStart(pipeline, req, run, ctx, startLatents)), imageLatents };
}
