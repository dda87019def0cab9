// Drives the server with the official @runware/sdk-js 1.3.2 over WebSocket, unchanged, against the real pipeline
// generator over the tiny golden SD1 model.
import { EModelArchitecture, Runware } from "@runware/sdk-js";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_KEY, SD1_AIR, startTestServer, wsUrl, type TestServer } from "./helpers/test-server.js";

type SdkClient = InstanceType<typeof Runware>;
let server: TestServer;
let sdk: SdkClient;

function client(apiKey = API_KEY): SdkClient {
  return new Runware({ apiKey, url: wsUrl(server), shouldReconnect: true, globalMaxRetries: 1, timeoutDuration: 20000 });
}

beforeAll(async () => {
  server = await startTestServer();
  sdk = client();
  await sdk.ensureConnection();
});
afterAll(async () => {
  await sdk?.disconnect();
  await server?.close();
});

async function fetchImage(url: string): Promise<{ type: string | null; bytes: Buffer }> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return { type: res.headers.get("content-type"), bytes: Buffer.from(await res.arrayBuffer()) };
}

describe("@runware/sdk-js 1.3.2", () => {
  it("requestImages with numberResults 2 streams partial results, seeds seed and seed+1, URL output", async () => {
    const partials: number[] = [];
    const images = await sdk.requestImages({
      positivePrompt: "Smiling avocado with sunglasses emoji, stickers pack",
      model: SD1_AIR,
      width: 128,
      height: 192,
      numberResults: 2,
      seed: 1234,
      clipSkip: 2,
      steps: 3,
      outputType: "URL",
      outputFormat: "PNG",
      includeCost: true,
      onPartialImages: (imgs: unknown[] | undefined) => partials.push(imgs?.length ?? 0),
    });
    expect(images).toHaveLength(2);
    expect(partials.reduce((a, b) => a + b, 0)).toBe(2);
    const list = images as unknown as Record<string, unknown>[];
    expect(list.map((i) => i.seed)).toEqual([1234, 1235]);
    for (const img of list) {
      expect(img.taskType).toBe("imageInference");
      expect(img.cost).toBe(0);
      expect(img.imageUUID).toMatch(/^[0-9a-f-]{36}$/);
      // SD1: hidden_states[L − clipSkip] then the final layer norm (the tiny CLIP-L has L = 5 layers).
      expect(img.clipSkipApplied).toEqual({ clipSkip: 2, layers: { clipL: 5 - 2 }, finalLayerNorm: true });
      const { type, bytes } = await fetchImage(img.imageURL as string);
      expect(type).toBe("image/png");
      const meta = await sharp(bytes).metadata();
      expect([meta.width, meta.height]).toEqual([128, 192]);
    }
  });

  it.each([
    ["base64Data", "imageBase64Data"],
    ["dataURI", "imageDataURI"],
  ] as const)("outputType %s returns %s", async (outputType, field) => {
    const [img] = (await sdk.requestImages({ positivePrompt: "a red fox", model: SD1_AIR, width: 128, height: 128, outputType, outputFormat: "webp" as "WEBP" /* lower case on purpose: accepted in any case */ })) as unknown as Record<string, string>[];
    const value = img![field]!;
    const b64 = outputType === "dataURI" ? value.replace(/^data:image\/webp;base64,/, "") : value;
    expect((await sharp(Buffer.from(b64, "base64")).metadata()).format).toBe("webp");
  });

  it("rejects an out-of-range clipSkip with invalidClipSkip and the task's UUID", async () => {
    const taskUUID = crypto.randomUUID();
    const max = server.tiny.sd1.maxClipSkip!;
    const err = await sdk.requestImages({ positivePrompt: "bad clip", model: SD1_AIR, width: 128, height: 128, clipSkip: max + 1, taskUUID }).catch((e: unknown) => e);
    const e = (err as { error: Record<string, unknown> }).error;
    expect(e).toMatchObject({ code: "invalidClipSkip", parameter: "clipSkip", type: "integer", min: 0, max, taskUUID, taskType: "imageInference" });
    expect(e.message).toMatch(/^Invalid value for clipSkip parameter\./);
  });

  it("imageUpload then img2img with the uploaded UUID as seedImage", async () => {
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: "#336699" } }).png().toBuffer();
    const up = (await sdk.imageUpload({ image: `data:image/png;base64,${png.toString("base64")}` })) as unknown as Record<string, string>;
    expect(up.taskType).toBe("imageUpload");
    expect(up.imageUUID).toMatch(/^[0-9a-f-]{36}$/);
    expect((await fetchImage(up.imageURL!)).bytes.equals(png)).toBe(true);
    const [img] = (await sdk.requestImages({ positivePrompt: "repaint it", model: SD1_AIR, width: 128, height: 128, seedImage: up.imageUUID!, strength: 0.5 })) as unknown as Record<string, unknown>[];
    expect(img!.imageURL).toMatch(/\/image\/[0-9a-f-]{36}\.jpg$/);
  });

  it("modelSearch lists the catalog in Runware's shape", async () => {
    const r = (await sdk.modelSearch({ search: "tiny", category: "checkpoint", architecture: EModelArchitecture.sd1x })) as unknown as Record<string, unknown>;
    expect(r.taskType).toBe("modelSearch");
    expect(r.totalResults).toBe(1);
    expect((r.results as Record<string, unknown>[])[0]).toMatchObject({ air: SD1_AIR, category: "checkpoint", architecture: "sd1x", maxClipSkip: server.tiny.sd1.maxClipSkip });
  });

  it("a bad API key rejects ensureConnection with invalidApiKey", async () => {
    const bad = client("not-the-key-at-all");
    const err = await bad.ensureConnection().catch((e: unknown) => e);
    await bad.disconnect();
    expect((err as { error: Record<string, unknown> }).error).toEqual({
      code: "invalidApiKey",
      message: "Invalid API key. Get one at https://my.runware.ai/signup",
      parameter: "apiKey",
      type: "string",
      taskType: "authentication",
    });
  });
});
