// The wire protocol with raw `ws` and `fetch` clients: several tasks per frame, ping, auth order, async + getResponse,
// session resume, REST auth, image serving. Images come from the real pipeline generator over the tiny golden SD1 model.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkerGenerator } from "../../src/jobs/worker-generator.js";
import type { Generator } from "../../src/jobs/types.js";
import { connectRaw, errs, items } from "./helpers/raw-ws.js";
import { API_KEY, SD1_AIR, startTestServer, wsUrl, type TestServer } from "./helpers/test-server.js";

const pipelines = createWorkerGenerator({ maxPipelines: 1, threads: 2 });
/** The real generator, started late for "slow…" prompts so a client can disconnect mid-task. */
const slowGenerator: Generator = async function* (req, ctx) {
  if (req.prompt.startsWith("slow")) await new Promise((r) => setTimeout(r, 400));
  yield* pipelines.generate(req, ctx);
};

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ generator: slowGenerator });
});
afterAll(async () => {
  await server?.close();
  await pipelines.close();
});

const inference = (extra: Record<string, unknown> = {}) => ({
  taskType: "imageInference",
  taskUUID: randomUUID(),
  positivePrompt: "a small boat",
  model: SD1_AIR,
  width: 128,
  height: 128,
  steps: 2,
  ...extra,
});

async function authed() {
  const c = await connectRaw(wsUrl(server));
  c.send([{ taskType: "authentication", apiKey: API_KEY }]);
  const auth = await c.waitFor((f) => items(f)[0]?.taskType === "authentication");
  return { c, session: items(auth)[0]!.connectionSessionUUID as string };
}

describe("WebSocket protocol", () => {
  it("answers ping with pong, and refuses tasks before authentication with missingApiKey", async () => {
    const c = await connectRaw(wsUrl(server));
    c.send([{ taskType: "ping", ping: true }]);
    expect(await c.waitFor((f) => items(f)[0]?.taskType === "ping")).toEqual({ data: [{ taskType: "ping", pong: true }] });
    const t = inference();
    c.send([t]);
    const f = await c.waitFor((x) => errs(x).length > 0);
    expect(errs(f)[0]).toMatchObject({ code: "missingApiKey", taskUUID: t.taskUUID, taskType: "imageInference" });
    await c.close();
  });

  it("handles several tasks in one frame independently", async () => {
    const { c } = await authed();
    const good = inference();
    const bad = inference({ width: 100 });
    const search = { taskType: "modelSearch", taskUUID: randomUUID() };
    const unknown = { taskType: "videoInference", taskUUID: randomUUID() };
    c.send([good, bad, search, unknown, { taskType: "ping", ping: true }]);
    const g = await c.waitFor((f) => items(f)[0]?.taskUUID === good.taskUUID);
    expect(items(g)[0]).toMatchObject({ taskType: "imageInference", imageURL: expect.stringMatching(/\/image\//) });
    expect(errs(await c.waitFor((f) => errs(f)[0]?.taskUUID === bad.taskUUID))[0]).toMatchObject({ code: "invalidWidth", parameter: "width", min: 128, max: 2048 });
    expect(items(await c.waitFor((f) => items(f)[0]?.taskUUID === search.taskUUID))[0]).toMatchObject({ taskType: "modelSearch", totalResults: server.tiny.catalog.list().length });
    expect(errs(await c.waitFor((f) => errs(f)[0]?.taskUUID === unknown.taskUUID))[0]).toMatchObject({ code: "unsupportedTaskType", taskType: "videoInference" });
    await c.close();
  });

  it("async delivery acknowledges at once and getResponse returns the results", async () => {
    const { c } = await authed();
    const t = inference({ deliveryMethod: "async", numberResults: 2, seed: 40 });
    c.send([t]);
    expect(items(await c.waitFor((f) => items(f)[0]?.taskUUID === t.taskUUID))).toEqual([{ taskType: "imageInference", taskUUID: t.taskUUID, status: "processing" }]);
    let done: Record<string, unknown>[] = [];
    for (let i = 0; i < 50 && done.length < 2; i++) {
      const from = c.frames.length;
      c.send([{ taskType: "getResponse", taskUUID: t.taskUUID }]);
      const f = await c.waitFor((x) => items(x)[0]?.taskUUID === t.taskUUID, from);
      done = items(f).filter((x) => x.status === "success");
      if (done.length < 2) await new Promise((r) => setTimeout(r, 50));
    }
    expect(done.map((d) => d.seed)).toEqual([40, 41]);
    const other = await connectRaw(wsUrl(server));
    other.send([{ taskType: "authentication", apiKey: API_KEY }, { taskType: "getResponse", taskUUID: randomUUID() }]);
    expect(errs(await other.waitFor((f) => errs(f).length > 0))[0]).toMatchObject({ code: "taskNotFound" });
    await Promise.all([c.close(), other.close()]);
  });

  it("delivers results produced while disconnected after a resume with connectionSessionUUID", async () => {
    const { c, session } = await authed();
    const t = inference({ positivePrompt: "slow harbour", numberResults: 2 });
    c.send([t]);
    await new Promise((r) => setTimeout(r, 50));
    await c.close();
    await new Promise((r) => setTimeout(r, 800));
    const c2 = await connectRaw(wsUrl(server));
    c2.send([{ taskType: "authentication", apiKey: API_KEY, connectionSessionUUID: session }]);
    const auth = await c2.waitFor((f) => items(f)[0]?.taskType === "authentication");
    expect(items(auth)[0]).toEqual({ taskType: "authentication", connectionSessionUUID: session });
    await c2.waitFor((f) => f.data !== undefined && items(f).filter((x) => x.taskUUID === t.taskUUID).length > 0);
    const results = () => c2.frames.flatMap(items).filter((x) => x.taskUUID === t.taskUUID);
    // The real generator may still be rendering the second image (buffered ones come first, the rest live).
    for (let i = 0; i < 400 && results().length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 100));
    expect(results()).toHaveLength(2);
    await c2.close();
  });

  it("answers a bad key exactly like Runware", async () => {
    const c = await connectRaw(wsUrl(server));
    c.send([{ taskType: "authentication", apiKey: "bad" }]);
    const f = await c.waitFor((x) => errs(x).length > 0);
    expect(errs(f)).toEqual([{ code: "invalidApiKey", message: "Invalid API key. Get one at https://my.runware.ai/signup", parameter: "apiKey", type: "string", taskType: "authentication" }]);
    await c.close();
  });
});

describe("REST and images", () => {
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/v1`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });

  it("accepts Bearer auth or an authentication task first, and refuses missing/bad keys with 401", async () => {
    const t = inference({ outputFormat: "png", seed: "9223372036854775000" });
    const r1 = await post([t], { authorization: `Bearer ${API_KEY}` });
    expect(r1.status).toBe(200);
    const text = await r1.text();
    expect(text).toContain('"seed":9223372036854775000'); // 64-bit seed kept exact as a JSON number
    const r2 = await post([{ taskType: "authentication", apiKey: API_KEY }, { taskType: "modelSearch", taskUUID: randomUUID(), category: "vae" }]);
    expect(((await r2.json()) as { data: { totalResults: number }[] }).data[0]!.totalResults).toBe(1);
    const r3 = await post([inference()]);
    expect(r3.status).toBe(401);
    expect(((await r3.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("missingApiKey");
    const r4 = await post([inference()], { authorization: "Bearer nope-nope-nope" });
    expect(r4.status).toBe(401);
    expect(((await r4.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("invalidApiKey");
  });

  it("returns both data and errors for a mixed request, and 400 for bad JSON", async () => {
    const good = inference();
    const bad = inference({ clipSkip: -1 });
    const r = await post([good, bad], { authorization: `Bearer ${API_KEY}` });
    const body = (await r.json()) as { data: { taskUUID: string }[]; errors: { taskUUID: string; code: string }[] };
    expect(body.data.map((d) => d.taskUUID)).toEqual([good.taskUUID]);
    expect(body.errors).toMatchObject([{ taskUUID: bad.taskUUID, code: "invalidClipSkip" }]);
    const j = await post("[{", { authorization: `Bearer ${API_KEY}` });
    expect(j.status).toBe(400);
  });

  it("serves images by unguessable URL with the right type; nothing else is reachable", async () => {
    const r = await post([inference({ outputFormat: "WEBP" })], { authorization: `Bearer ${API_KEY}` });
    const url = ((await r.json()) as { data: { imageURL: string }[] }).data[0]!.imageURL;
    const img = await fetch(url);
    expect(img.headers.get("content-type")).toBe("image/webp");
    expect((await fetch(url.replace(/\.webp$/, ".png"))).status).toBe(404);
    expect((await fetch(`${server.url}/image/../api-key`)).status).toBe(404);
    expect((await fetch(`${server.url}/image/${randomUUID()}.png`)).status).toBe(404);
    const health = await fetch(`${server.url}/health`);
    expect(((await health.json()) as { status: string }).status).toBe("ok");
  });

  it("imageUpload refuses loopback URLs and file: URLs", async () => {
    const auth = { authorization: `Bearer ${API_KEY}` };
    for (const image of [`${server.url}/health`, "file:///etc/passwd", "http://169.254.169.254/latest/meta-data"]) {
      const r = await post([{ taskType: "imageUpload", taskUUID: randomUUID(), image }], auth);
      const body = (await r.json()) as { errors: { code: string; parameter: string }[] };
      expect(body.errors[0]).toMatchObject({ code: "invalidImage", parameter: "image" });
    }
  });
});
