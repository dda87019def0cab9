// issue 12 through the server: imageUpload, then imageInference with that seedImage UUID (and a mask), gives the same
// PNG as `vellum generate --seed-image FILE` — byte for byte — over REST and over WebSocket.
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { goldenPath } from "../helpers/golden.js";
import { connectRaw, errs, items } from "./helpers/raw-ws.js";
import { API_KEY, SD1_AIR, startTestServer, wsUrl, type TestServer } from "./helpers/test-server.js";
import { runGenerate } from "../helpers/cli.js";

let server: TestServer;
const dir = mkdtempSync(join(tmpdir(), "vellum-img2img-"));
const seedFile = join(dir, "seed.png");
const maskFile = join(dir, "mask.png");

beforeAll(async () => {
  server = await startTestServer();
  // The golden img2img inputs, enlarged to the API's minimum size (128 px) so the request needs no resize.
  writeFileSync(seedFile, await sharp(goldenPath("diffusion", "img2img", "init_0.png")).resize(128, 128, { kernel: "nearest" }).png().toBuffer());
  writeFileSync(maskFile, await sharp(goldenPath("diffusion", "img2img", "mask_0.png")).resize(128, 128, { kernel: "nearest" }).png().toBuffer());
});
afterAll(async () => {
  await server?.close();
});

const params = { positivePrompt: "a cozy wooden cabin in a snowy forest, oil painting", negativePrompt: "blurry, lowres", steps: 4, seed: 7100, CFGScale: 5, strength: 0.75 };

async function cli(extra: string[]): Promise<Buffer> {
  const out = join(dir, `${randomUUID()}.png`);
  await runGenerate(["--model", server.tiny.modelDir, "--prompt", params.positivePrompt, "--negative-prompt", params.negativePrompt,
      "--steps", String(params.steps), "--cfg", String(params.CFGScale), "--seed", String(params.seed), "--width", "128", "--height", "128",
    "--seed-image", seedFile, "--strength", String(params.strength), ...extra, "--out", out]);
  return readFileSync(out);
}

const dataUri = (file: string) => `data:image/png;base64,${readFileSync(file).toString("base64")}`;
const task = (seedImage: string, maskImage?: string) => ({
  taskType: "imageInference", taskUUID: randomUUID(), model: SD1_AIR, width: 128, height: 128, outputType: "base64Data", outputFormat: "PNG",
  seedImage, ...(maskImage !== undefined && { maskImage }), ...params,
});
const bytesOf = (item: Record<string, unknown> | undefined) => Buffer.from(String(item?.imageBase64Data), "base64");

describe("imageUpload → seedImage by UUID equals the CLI", () => {
  it("over REST: img2img and inpainting", async () => {
    const headers = { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" };
    const post = async (tasks: unknown[]) => (await (await fetch(`${server.url}/v1`, { method: "POST", headers, body: JSON.stringify(tasks) })).json()) as { data?: Record<string, unknown>[]; errors?: unknown[] };
    const uploads = [
      { taskType: "imageUpload", taskUUID: randomUUID(), image: dataUri(seedFile) },
      { taskType: "imageUpload", taskUUID: randomUUID(), image: dataUri(maskFile) },
    ];
    const up = await post(uploads);
    expect(up.errors).toBeUndefined();
    // Tasks of one frame are independent: results come in completion order, so match them by taskUUID.
    const [seedUUID, maskUUID] = uploads.map((u) => String(up.data!.find((d) => d.taskUUID === u.taskUUID)?.imageUUID));
    const img2img = await post([task(seedUUID!)]);
    expect(img2img.errors, JSON.stringify(img2img.errors)).toBeUndefined();
    expect(bytesOf(img2img.data![0]).equals(await cli([])), "img2img").toBe(true);
    const inpaint = await post([task(seedUUID!, maskUUID!)]);
    expect(inpaint.errors, JSON.stringify(inpaint.errors)).toBeUndefined();
    expect(bytesOf(inpaint.data![0]).equals(await cli(["--mask-image", maskFile])), "inpainting").toBe(true);
  });

  it("over WebSocket: img2img", async () => {
    const ws = await connectRaw(wsUrl(server));
    try {
      ws.send([{ taskType: "authentication", apiKey: API_KEY }]);
      await ws.waitFor((f) => items(f).some((d) => d.taskType === "authentication"));
      const upload = { taskType: "imageUpload", taskUUID: randomUUID(), image: dataUri(seedFile) };
      ws.send([upload]);
      const uploaded = await ws.waitFor((f) => items(f).some((d) => d.taskUUID === upload.taskUUID) || errs(f).length > 0);
      expect(errs(uploaded)).toEqual([]);
      const t = task(String(items(uploaded)[0]!.imageUUID));
      ws.send([t]);
      const frame = await ws.waitFor((f) => items(f).some((d) => d.taskUUID === t.taskUUID && d.imageBase64Data !== undefined) || errs(f).length > 0, 0, 60_000);
      expect(errs(frame)).toEqual([]);
      expect(bytesOf(items(frame).find((d) => d.taskUUID === t.taskUUID)).equals(await cli([]))).toBe(true);
    } finally {
      await ws.close();
    }
  });
});
