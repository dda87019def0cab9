// Drives the REST endpoint with @runware/ai-sdk-provider 2.0.0 through `ai`'s generateImage, unchanged.
// Runs the real pipeline generator over the tiny golden SD1 model.
import { createRunware } from "@runware/ai-sdk-provider";
import { generateImage } from "ai";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { VellumServer } from "../../src/api/server.js";
import { API_KEY, SD1_AIR, startTestServer } from "./helpers/test-server.js";

(globalThis as { AI_SDK_LOG_WARNINGS?: boolean }).AI_SDK_LOG_WARNINGS = false;
let server: VellumServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe("@runware/ai-sdk-provider 2.0.0 + ai generateImage", () => {
  it.each(["URL", "base64Data", "dataURI"] as const)("generates images with outputType %s", async (outputType) => {
    const runware = createRunware({ apiKey: API_KEY, baseURL: `${server.url}/v1` });
    const result = await generateImage({
      model: runware.image(SD1_AIR, { outputType, outputFormat: "PNG", steps: 2, clipSkip: 1 }),
      prompt: "a lighthouse at dusk",
      size: "128x192",
      n: 2,
      seed: 77,
    });
    expect(result.images).toHaveLength(2);
    for (const img of result.images) {
      const meta = await sharp(Buffer.from(img.uint8Array)).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(["png", 128, 192]);
    }
  });

  it("surfaces Runware errors (invalid clipSkip) as an API error", async () => {
    const runware = createRunware({ apiKey: API_KEY, baseURL: `${server.url}/v1` });
    const err = await generateImage({ model: runware.image(SD1_AIR, { clipSkip: 9 }), prompt: "x y", size: "128x128" }).catch((e: unknown) => e);
    expect(String((err as Error).message)).toMatch(/invalidClipSkip/);
  });

  it("rejects a bad key", async () => {
    const runware = createRunware({ apiKey: "wrong-key-123456", baseURL: `${server.url}/v1` });
    const err = await generateImage({ model: runware.image(SD1_AIR), prompt: "x y", size: "128x128" }).catch((e: unknown) => e);
    expect(String((err as Error).message)).toMatch(/invalidApiKey/);
  });
});
