import { describe, expect, it } from "vitest";
import type { CatalogEntry } from "../catalog/types.js";
import { decodeEvent, decodeRequest, encodeEvent, encodeRequest, UnknownModelError } from "./bullmq-codec.js";
import type { GenerateRequest } from "./types.js";

const entry = (air: string, category: CatalogEntry["category"]): CatalogEntry => ({ air, name: air, version: "1", category, architecture: "sd1x", path: `/models/${air}`, defaults: {} });
const catalog = [entry("m:base@1", "checkpoint"), entry("m:lora@1", "lora"), entry("m:vae@1", "vae")];
const resolve = (air: string) => catalog.find((e) => e.air === air);

const request: GenerateRequest = {
  taskUUID: "t",
  model: catalog[0]!,
  prompt: "p",
  negativePrompt: "n",
  widthPx: 64,
  heightPx: 96,
  steps: 4,
  guidanceScale: 7.5,
  seed: 2n ** 63n - 2n,
  scheduler: "Euler",
  clipSkip: [0, 1, 2],
  loras: [{ entry: catalog[1]!, weight: -1.5 }],
  vae: catalog[2]!,
  seedImage: new Uint8Array([0, 1, 255]),
  maskImage: new Uint8Array([7]),
  strength: 0.5,
  numberResults: 3,
  output: { format: "webp", quality: 80 },
};

describe("bullmq codec", () => {
  it("round-trips a request through JSON, models by AIR only", () => {
    const text = JSON.stringify(encodeRequest(request));
    expect(text).not.toContain("/models/");
    expect(decodeRequest(JSON.parse(text), resolve)).toEqual(request);
  });

  it("refuses an AIR the worker's catalog does not know", () => {
    const wire = encodeRequest(request);
    expect(() => decodeRequest({ ...wire, modelAir: "m:missing@1" }, resolve)).toThrow(UnknownModelError);
  });

  it("round-trips image events with exact 64-bit seeds and bytes", () => {
    const image = { index: 2, seed: 2n ** 62n + 1n, bytes: new Uint8Array([9, 8, 7]), mime: "image/png" as const, clipSkipApplied: { clipSkip: 1 } };
    expect(decodeEvent(encodeEvent("a1", { type: "image", image }))).toEqual({ attempt: "a1", event: { type: "image", image } });
    expect(decodeEvent(encodeEvent("a2", { type: "failed", error: { code: "x", message: "y" } }))).toEqual({ attempt: "a2", event: { type: "failed", error: { code: "x", message: "y" } } });
  });
});
