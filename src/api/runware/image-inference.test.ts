import { describe, expect, it } from "vitest";
import type { CatalogEntry, ModelCatalog } from "../../catalog/types.js";
import { ApiError } from "../errors.js";
import { validateImageInference } from "./image-inference.js";

const entries: CatalogEntry[] = [
  { air: "civitai:1@1", name: "sd1", version: "1", category: "checkpoint", architecture: "sd1x", path: "/m/sd1", defaults: {}, maxClipSkip: 10 },
  { air: "civitai:2@1", name: "anime", version: "1", category: "checkpoint", architecture: "sd1x", path: "/m/a", defaults: { steps: 25 }, recommendedClipSkip: { value: 1, source: "civitai" } },
  { air: "civitai:3@1", name: "flux", version: "1", category: "checkpoint", architecture: "flux1", path: "/m/f", defaults: {} },
  { air: "civitai:4@1", name: "lora", version: "1", category: "lora", architecture: "sd1x", path: "/m/l", defaults: {} },
];
const catalog: ModelCatalog = { list: () => entries, resolve: (a) => entries.find((e) => e.air === a), refresh: async () => {} };
const UUID = "5bc29c7d-46b7-4e56-bda2-6884e48313bc";
const base = { taskType: "imageInference", taskUUID: UUID, positivePrompt: "a cat", model: "civitai:1@1", width: 512, height: 512 };

function errorOf(task: Record<string, unknown>): Record<string, unknown> {
  try {
    validateImageInference(task, catalog);
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    return (e as ApiError).toWire(task) as unknown as Record<string, unknown>;
  }
  throw new Error("expected a validation error");
}

describe("imageInference validation", () => {
  it("maps Runware names to the internal request with defaults", () => {
    const t = validateImageInference({ ...base, CFGScale: 5, seed: 42, numberResults: 3, outputFormat: "png", scheduler: "euler a", unknownField: 1 }, catalog);
    expect(t.request).toMatchObject({ prompt: "a cat", guidanceScale: 5, seed: 42n, numberResults: 3, steps: 20, clipSkip: 0, scheduler: "Euler a", output: { format: "png", quality: 95 }, strength: 0.8 });
    expect(t.delivery).toMatchObject({ outputType: "URL", isAsync: false, includeCost: false });
    const big = validateImageInference({ ...base, seed: "9223372036854775807" }, catalog);
    expect(big.request.seed).toBe(2n ** 63n - 1n);
  });

  it.each([
    [{ width: 500 }, "invalidWidth", "width"],
    [{ height: 4096 }, "invalidHeight", "height"],
    [{ steps: 0 }, "invalidSteps", "steps"],
    [{ CFGScale: 51 }, "invalidCFGScale", "CFGScale"],
    [{ seed: 0 }, "invalidSeed", "seed"],
    [{ numberResults: 21 }, "invalidNumberResults", "numberResults"],
    [{ outputType: "PNG" }, "invalidOutputType", "outputType"],
    [{ outputFormat: "gif" }, "invalidOutputFormat", "outputFormat"],
    [{ outputQuality: 10 }, "invalidOutputQuality", "outputQuality"],
    [{ scheduler: "Nope" }, "invalidScheduler", "scheduler"],
    [{ positivePrompt: "a" }, "invalidPositivePrompt", "positivePrompt"],
    [{ positivePrompt: undefined }, "missingPositivePrompt", "positivePrompt"],
    [{ model: "not an air" }, "invalidModel", "model"],
    [{ model: "civitai:9@9" }, "unknownModel", "model"],
    [{ model: "civitai:4@1" }, "invalidModel", "model"],
    [{ lora: [{ model: "civitai:9@9" }] }, "unknownModel", "lora"],
    [{ strength: 2 }, "invalidStrength", "strength"],
    [{ clipSkip: 1.5 }, "invalidClipSkip", "clipSkip"],
    [{ clipSkip: -1 }, "invalidClipSkip", "clipSkip"],
    [{ controlNet: [{ model: "x" }] }, "unsupportedParameter", "controlNet"],
    [{ checkNSFW: true }, "unsupportedParameter", "checkNSFW"],
    [{ maskImage: "data:image/png;base64,AA" }, "missingSeedImage", "seedImage"],
    [{ ttl: 10 }, "invalidTtl", "ttl"],
    [{ taskUUID: "nope" }, "invalidTaskUUID", "taskUUID"],
  ])("%j → %s", (patch, code, parameter) => {
    const e = errorOf({ ...base, ...patch });
    expect(e).toMatchObject({ code, parameter, taskType: "imageInference" });
    if (parameter !== "taskUUID") expect(e.taskUUID).toBe(UUID);
    expect(typeof e.documentation === "string" || code === "unsupportedParameter").toBe(true);
  });

  it("clipSkip: 0–2 always, up to maxClipSkip when the model allows, with min/max in the error", () => {
    expect(validateImageInference({ ...base, clipSkip: 10 }, catalog).request.clipSkip).toBe(10);
    expect(errorOf({ ...base, clipSkip: 11 })).toMatchObject({ code: "invalidClipSkip", min: 0, max: 10, message: expect.stringMatching(/^Invalid value for clipSkip parameter\./) });
    const anime = { ...base, model: "civitai:2@1" };
    expect(validateImageInference({ ...anime, clipSkip: 2 }, catalog).request.clipSkip).toBe(2);
    expect(errorOf({ ...anime, clipSkip: 3 })).toMatchObject({ code: "invalidClipSkip", min: 0, max: 2 });
  });

  it("an omitted clipSkip takes the entry's recommended value, else 0", () => {
    expect(validateImageInference({ ...base, model: "civitai:2@1" }, catalog).request).toMatchObject({ clipSkip: 1, steps: 25 });
    expect(validateImageInference(base, catalog).request.clipSkip).toBe(0);
  });

  it("non-CLIP models ignore clipSkip with a warning instead of an error", () => {
    const t = validateImageInference({ ...base, model: "civitai:3@1", clipSkip: 7 }, catalog);
    expect(t.request.clipSkip).toBe(0);
    expect(t.warnings[0]).toMatch(/clipSkip ignored/);
  });

  it("a clipSkip array is a sweep: one image per value", () => {
    const t = validateImageInference({ ...base, clipSkip: [0, 1, 2] }, catalog);
    expect(t.request).toMatchObject({ clipSkip: [0, 1, 2], numberResults: 3 });
    expect(errorOf({ ...base, clipSkip: [0, 1], numberResults: 3 })).toMatchObject({ code: "invalidNumberResults" });
  });
});
