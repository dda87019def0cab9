// One whole text-to-image run (encode → N CFG steps → VAE decode) on the benchmark's own sessions, through the
// pipeline module's textToImage, so the number includes the sampler and image conversion.
import type { Conditioner } from "../src/conditioning/index.js";
import { SD15_SCHEDULER_CONFIG, type Pipeline } from "../src/pipeline/pipeline.js";
import { textToImage } from "../src/pipeline/text-to-image.js";
import type { Session } from "../src/runtime/index.js";
import type { SchedulerConfig } from "../src/schedulers/index.js";
import type { BenchModel } from "./stages.js";
import { PROMPT } from "./stages.js";

export async function runPipeline(m: BenchModel, conditioner: Conditioner, unet: Session, decoder: Session, o: { size: number; steps: number }): Promise<number> {
  const pipeline: Pipeline = {
    model: m.model,
    unetConfig: m.unetConfig,
    vaeConfig: m.vaeConfig,
    schedulerConfig: (m.model.schedulerConfig ?? SD15_SCHEDULER_CONFIG) as SchedulerConfig,
    conditioner,
    unet,
    vaeScaleFactor: 2 ** (m.vaeConfig.blockOutChannels.length - 1),
    vaeDecoder: () => Promise.resolve(decoder),
    vaeEncoder: () => Promise.reject(new Error("bench: no VAE encoder")),
    release: () => Promise.resolve(),
  };
  const t0 = performance.now();
  await textToImage(pipeline, { ...PROMPT, width: o.size, height: o.size, steps: o.steps, guidanceScale: 7.5, scheduler: "euler", seed: 42n });
  return performance.now() - t0;
}
