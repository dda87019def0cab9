// The real pipeline behind the API: an image returned over REST is byte-identical to `vellum generate` with the same
// parameters; the clipSkip sweep over raw WS (3 values → 3 labelled images, one text-encoder run); webhook POST and
// uploadEndpoint PUT to a local HTTP server; refusals with the model's own ranges; LoRA clipSkip warnings; progress;
// guidanceRescale; the playground's static files.
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import sharp from "sharp";
import { parseParameters, readPngTextChunks } from "../../src/image/index.js";
import { connectRaw, errs, items } from "./helpers/raw-ws.js";
import { API_KEY, FLUX_AIR, LORA_AIR, SD1_AIR, startTestServer, wsUrl, type TestServer } from "./helpers/test-server.js";
import { runGenerate } from "../helpers/cli.js";

let server: TestServer;
beforeAll(async () => {
  // Loopback webhooks/upload endpoints are refused unless private fetches are allowed (development setting).
  server = await startTestServer({ settings: { isPrivateFetchAllowed: true } });
});
afterAll(async () => {
  await server?.close();
});

const auth = { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" };
const post = async (tasks: unknown[]) => {
  const r = await fetch(`${server.url}/v1`, { method: "POST", headers: auth, body: JSON.stringify(tasks) });
  return { status: r.status, body: (await r.json()) as { data?: Record<string, unknown>[]; errors?: Record<string, unknown>[] } };
};
const inference = (extra: Record<string, unknown> = {}) => ({
  taskType: "imageInference",
  taskUUID: randomUUID(),
  positivePrompt: "a (red:1.2) lighthouse on a cliff",
  model: SD1_AIR,
  width: 128,
  height: 128,
  steps: 2,
  seed: 31337,
  outputType: "base64Data",
  outputFormat: "PNG",
  ...extra,
});
const bytesOf = (item: Record<string, unknown>) => Buffer.from(item.imageBase64Data as string, "base64");
const encoderRuns = async () => (await server.pipelines!.stats()).pipelines.reduce((s, p) => s + p.encoderRuns, 0);

const cli = runGenerate;

describe("real pipeline through the API", () => {
  it("returns a PNG byte-identical to `vellum generate` with the same parameters", async () => {
    const negativePrompt = "blurry, low quality";
    const t = inference({ negativePrompt, CFGScale: 6.5, clipSkip: 1, scheduler: "DPM++ 2M Karras", steps: 3 });
    const { status, body } = await post([t]);
    expect(status, JSON.stringify(body.errors)).toBe(200);
    const api = bytesOf(body.data![0]!);
    const out = join(mkdtempSync(join(tmpdir(), "vellum-cli-")), "cli.png");
    await cli(["--model", server.tiny.modelDir, "--prompt", t.positivePrompt, "--negative-prompt", negativePrompt,
      "--steps", "3", "--cfg", "6.5", "--seed", "31337", "--width", "128", "--height", "128", "--clip-skip", "1",
      "--scheduler", "DPM++ 2M Karras", "--out", out]);
    const local = readFileSync(out);
    expect(api.length).toBe(local.length);
    expect(api.equals(local)).toBe(true);
  });

  it("sweeps clipSkip [0, 1, 2] over raw WS: 3 labelled images, same seed, one text-encoder run", async () => {
    const c = await connectRaw(wsUrl(server));
    c.send([{ taskType: "authentication", apiKey: API_KEY }]);
    await c.waitFor((f) => items(f)[0]?.taskType === "authentication");
    await post([inference({ steps: 1 })]); // the pipeline is loaded (and the counter settled) before we measure
    const before = await encoderRuns();
    const t = inference({ clipSkip: [0, 1, 2], outputType: "URL" });
    c.send([t]);
    const results: Record<string, unknown>[] = [];
    for (let from = 0; results.length < 3; ) {
      const f = await c.waitFor((x) => items(x).some((i) => i.taskUUID === t.taskUUID) || errs(x).some((e) => e.taskUUID === t.taskUUID), from, 30000);
      expect(errs(f)).toEqual([]);
      results.push(...items(f).filter((i) => i.taskUUID === t.taskUUID));
      from = c.frames.indexOf(f) + 1;
    }
    await c.close();
    expect((await encoderRuns()) - before).toBe(1); // SD1 has one text encoder: one run for the whole sweep
    expect(results.map((r) => r.seed)).toEqual([31337, 31337, 31337]);
    expect(results.map((r) => (r.clipSkipApplied as { clipSkip: number }).clipSkip)).toEqual([0, 1, 2]);
    for (const r of results) {
      const a = r.clipSkipApplied as { clipSkip: number; layers: { clipL: number }; finalLayerNorm: boolean };
      expect(a.layers.clipL).toBe(5 - a.clipSkip); // tiny CLIP-L: 5 layers, SD1 rule hidden_states[L − c]
      expect(a.finalLayerNorm).toBe(true);
    }
    const images = await Promise.all(results.map(async (r) => Buffer.from(await (await fetch(r.imageURL as string)).arrayBuffer())));
    expect(images[0]!.equals(images[1]!)).toBe(false);
    expect(images[1]!.equals(images[2]!)).toBe(false);
  });

  it("POSTs each result to webhookURL and PUTs each image to uploadEndpoint", async () => {
    const received: { method: string; url: string; type: string | undefined; body: Buffer }[] = [];
    const hook: Server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (d: Buffer) => chunks.push(d));
      req.on("end", () => {
        received.push({ method: req.method!, url: req.url!, type: req.headers["content-type"], body: Buffer.concat(chunks) });
        res.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
    const port = (hook.address() as { port: number }).port;
    try {
      const t = inference({ numberResults: 2, webhookURL: `http://127.0.0.1:${port}/hook`, uploadEndpoint: `http://127.0.0.1:${port}/upload` });
      const { body } = await post([t]);
      expect(body.data).toHaveLength(2);
      for (let i = 0; i < 50 && received.length < 4; i++) await new Promise((r) => setTimeout(r, 20));
      const posts = received.filter((r) => r.method === "POST" && r.url === "/hook").map((r) => JSON.parse(r.body.toString()) as Record<string, unknown>);
      const puts = received.filter((r) => r.method === "PUT" && r.url === "/upload");
      expect(posts.map((p) => p.imageUUID).sort()).toEqual(body.data!.map((d) => d.imageUUID).sort());
      expect(posts.every((p) => p.taskUUID === t.taskUUID && p.taskType === "imageInference")).toBe(true);
      expect(puts).toHaveLength(2);
      expect(puts.every((p) => p.type === "image/png")).toBe(true);
      const sent = body.data!.map(bytesOf);
      for (const p of puts) expect(sent.some((s) => s.equals(p.body))).toBe(true);
    } finally {
      hook.close();
    }
  });

  it("refuses clipSkip above the model's maximum with the model's range", async () => {
    const max = server.tiny.sd1.maxClipSkip!;
    const t = inference({ clipSkip: max + 1 });
    const { status, body } = await post([t]);
    expect(status).toBe(400);
    expect(body.errors![0]).toMatchObject({ code: "invalidClipSkip", parameter: "clipSkip", min: 0, max, taskUUID: t.taskUUID });
    const ok = await post([inference({ clipSkip: max, steps: 1 })]);
    expect((ok.body.data![0]!.clipSkipApplied as { clipSkip: number }).clipSkip).toBe(max);
  });

  it("refuses a scheduler the sampler registry does not implement with invalidScheduler and the accepted names", async () => {
    const t = inference({ scheduler: "FlowMatchEulerDiscreteScheduler" });
    const { body } = await post([t]);
    expect(body.errors![0]).toMatchObject({ code: "invalidScheduler", parameter: "scheduler", taskUUID: t.taskUUID });
    expect(body.errors![0]!.message).toMatch(/Accepted: .*Euler a/);
  });

  it("warns when a LoRA was trained at another clipSkip, and not when it matches", async () => {
    const { body } = await post([inference({ lora: [{ model: LORA_AIR, weight: 0.8 }], clipSkip: 0 })]);
    expect(body.errors).toBeUndefined();
    expect(body.data![0]!.warnings).toEqual([expect.stringMatching(/LoRA vellum:tiny-lora@1 was trained at clipSkip 1 .*used clipSkip 0/)]);
    const same = await post([inference({ lora: [{ model: LORA_AIR, weight: 0.8 }], clipSkip: 1 })]);
    expect(same.body.data![0]!.warnings).toBeUndefined();
    const plain = await post([inference({ clipSkip: 1 })]);
    expect(bytesOf(plain.body.data![0]!).equals(bytesOf(same.body.data![0]!))).toBe(false); // the LoRA changed the image
  });

  it("refuses a non-CLIP architecture it cannot run (after warning that clipSkip would be ignored)", async () => {
    const { body } = await post([inference({ model: FLUX_AIR })]);
    expect(body.errors![0]).toMatchObject({ code: "invalidModel", parameter: "model" });
  });

  it("streams progress items per step and image, and guidanceRescale changes the image", async () => {
    const { body } = await post([inference({ includeProgress: true, numberResults: 2, steps: 2 })]);
    const progress = body.data!.filter((d) => d.taskType === "imageInferenceProgress").map((d) => [d.imageIndex, d.step, d.total]);
    expect(progress).toEqual([[0, 1, 2], [0, 2, 2], [1, 1, 2], [1, 2, 2]]);
    const images = body.data!.filter((d) => d.taskType === "imageInference");
    expect(images.map((d) => d.seed)).toEqual([31337, 31338]);
    const rescaled = await post([inference({ guidanceRescale: 0.7 })]);
    expect(bytesOf(rescaled.body.data![0]!).equals(bytesOf(images[0]!))).toBe(false);
    const bad = await post([inference({ guidanceRescale: 1.5 })]);
    expect(bad.body.errors![0]).toMatchObject({ code: "invalidGuidanceRescale", min: 0, max: 1 });
  });

  it("vaeTiling: on decodes a 576 px wide image in 512 px tiles, auto and off decode it whole", async () => {
    const at576 = (vaeTiling?: string) => inference({ width: 576, height: 128, steps: 1, ...(vaeTiling !== undefined && { vaeTiling }) });
    const { body } = await post([at576(), at576("off"), at576("on")]);
    const [auto, off, on] = ["auto", "off", "on"].map((_, i) => bytesOf(body.data![i]!));
    expect(auto!.equals(off!)).toBe(true);
    expect(on!.equals(off!)).toBe(false);
    const bad = await post([inference({ vaeTiling: "always" })]);
    expect(bad.body.errors![0]).toMatchObject({ code: "invalidVaeTiling", parameter: "vaeTiling" });
  });
});

describe("img2img and inpainting through the API", () => {
  it("seedImage → img2img, + maskImage → inpainting, with Denoising strength in the PNG metadata", async () => {
    const uri = async (img: ReturnType<typeof sharp>) => `data:image/png;base64,${(await img.png().toBuffer()).toString("base64")}`;
    const seedImage = await uri(sharp({ create: { width: 128, height: 128, channels: 3, background: "#c04020" } }));
    const half = Buffer.alloc(128 * 128, 0).map((_, i) => (i % 128 < 64 ? 255 : 0));
    const maskImage = await uri(sharp(half, { raw: { width: 128, height: 128, channels: 1 } }));
    const { body } = await post([inference({ seedImage, strength: 0.6 }), inference({ seedImage, maskImage, strength: 0.6 })]);
    expect(body.errors).toBeUndefined();
    const [img2img, inpainted] = body.data!.map(bytesOf);
    expect(img2img!.equals(inpainted!)).toBe(false);
    for (const png of [img2img!, inpainted!]) {
      const fields = parseParameters(readPngTextChunks(png)["parameters"]!).fields;
      expect(fields["Denoising strength"]).toBe("0.6");
      expect(fields["Seed"]).toBe("31337");
    }
    const bad = await post([inference({ seedImage, strength: 0.6, maskImage: seedImage.slice(0, 40) })]);
    expect(bad.body.errors![0]!.code).toMatch(/^invalid(MaskImage|Image)$/);
  });
});

describe("playground static files", () => {
  it("serves web/ at / with content types and no traversal", async () => {
    const index = await fetch(`${server.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await index.text()).toBe(readFileSync(new URL("../../web/index.html", import.meta.url), "utf-8"));
    const js = await fetch(`${server.url}/main.js`);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("x-content-type-options")).toBe("nosniff");
    expect((await fetch(`${server.url}/style.css`)).headers.get("content-type")).toBe("text/css; charset=utf-8");
    for (const p of ["/%2e%2e/package.json", "/..%2fpackage.json", "/.git/config", "/nope.js", "/main.js/", "/src/api/http.ts"]) {
      expect((await fetch(`${server.url}${p}`)).status, p).toBe(404);
    }
  });
});
