// TEST DOUBLE for queue tests (the pipeline is tested elsewhere): a deterministic generator that ticks `steps` times per
// image, honours its signal between steps, fails on taskUUIDs starting with "boom", and encodes seed/index in the bytes.
import type { CatalogEntry } from "../../../src/catalog/types.js";
import type { GenerateRequest, Generator } from "../../../src/jobs/types.js";

export const TEST_MODEL: CatalogEntry = { air: "test:ticking@1", name: "ticking", version: "1", category: "checkpoint", architecture: "sd1x", path: "/nonexistent", defaults: {} };

/** A second model, for model-affinity tests. */
export const TEST_MODEL_B: CatalogEntry = { ...TEST_MODEL, air: "test:ticking-b@1", name: "ticking b" };

export const resolveTestModel = (air: string): CatalogEntry | undefined => [TEST_MODEL, TEST_MODEL_B].find((m) => m.air === air);

export function tickingGenerator(stepMs = 2): Generator {
  return async function* (req, ctx) {
    if (req.taskUUID.startsWith("boom")) throw Object.assign(new Error("exploded"), { code: "inferenceError" });
    for (let i = 0; i < req.numberResults; i++) {
      for (let step = 1; step <= req.steps; step++) {
        await new Promise((r) => setTimeout(r, stepMs));
        if (ctx.signal.aborted) throw ctx.signal.reason;
        ctx.onProgress({ step, total: req.steps, imageIndex: i });
      }
      const seed = req.seed + BigInt(i);
      yield { index: i, seed, bytes: new TextEncoder().encode(`${req.taskUUID}/${i}/${seed}`), mime: "image/png" };
    }
  };
}

export function testRequest(taskUUID: string, over: Partial<GenerateRequest> = {}): GenerateRequest {
  return {
    taskUUID,
    model: TEST_MODEL,
    prompt: "a cat",
    negativePrompt: "",
    widthPx: 64,
    heightPx: 64,
    steps: 3,
    guidanceScale: 7,
    seed: 10n,
    clipSkip: 0,
    loras: [],
    strength: 0.8,
    numberResults: 2,
    output: { format: "png", quality: 95 },
    ...over,
  };
}
