// A WebSocket client that disconnects: its synchronous tasks are cancelled (between steps) once the session was not
// resumed within resumeGraceMs, and nothing is delivered for them later; a session resumed in time gets its results.
// Both backends: the in-process queue and BullMQ with a worker on a real redis-server. Per-key limit over the wire too.
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/api/logger.js";
import { startVellumServer, type VellumServer } from "../../src/api/server.js";
import { buildServerConfig } from "../../src/config/server-config.js";
import { createBullmqQueue } from "../../src/jobs/bullmq-queue.js";
import type { Generator, Queue } from "../../src/jobs/types.js";
import { startWorker, type VellumWorker } from "../../src/jobs/worker.js";
import { connectRaw, errs, items, type RawClient } from "../contract/helpers/raw-ws.js";
import { API_KEY, clusterCatalog } from "./helpers/cluster-catalog.js";
import { startRedis, type TestRedis } from "./helpers/redis-server.js";
import { resolveTestModel, TEST_MODEL, tickingGenerator } from "./helpers/ticking-generator.js";
import { hasRedisServer } from "../helpers/system-tools.js";

const GRACE_MS = 300;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The ticking generator (20 ms a step), recording which tasks started and which were aborted, and when. */
function observed(): { generator: Generator; started: Set<string>; aborted: Map<string, number> } {
  const started = new Set<string>();
  const aborted = new Map<string, number>();
  const ticking = tickingGenerator(20);
  const generator: Generator = (req, ctx) => {
    started.add(req.taskUUID);
    ctx.signal.addEventListener("abort", () => aborted.set(req.taskUUID, Date.now()), { once: true });
    return ticking(req, ctx);
  };
  return { generator, started, aborted };
}

const task = (extra: Record<string, unknown> = {}) => ({
  taskType: "imageInference",
  taskUUID: randomUUID(),
  positivePrompt: "session test",
  model: TEST_MODEL.air,
  width: 128,
  height: 128,
  steps: 100,
  numberResults: 1,
  outputType: "base64Data",
  ...extra,
});

async function authed(server: VellumServer, session?: string): Promise<{ c: RawClient; session: string }> {
  const c = await connectRaw(server.url.replace(/^http/, "ws"));
  c.send([{ taskType: "authentication", apiKey: API_KEY, ...(session !== undefined && { connectionSessionUUID: session }) }]);
  const auth = await c.waitFor((f) => items(f)[0]?.taskType === "authentication");
  return { c, session: items(auth)[0]!.connectionSessionUUID as string };
}

async function until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

interface Backend {
  readonly name: string;
  queue(generator: Generator): Promise<{ queue?: Queue; close(): Promise<void> }>;
  stop(): Promise<void>;
}

let redis: TestRedis | undefined;
const inProcess: Backend = { name: "in-process", queue: async () => ({ close: async () => {} }), stop: async () => {} };
const bullmq: Backend = {
  name: "bullmq",
  async queue(generator) {
    redis ??= await startRedis();
    await redis.flush();
    const queue = createBullmqQueue({ redisUrl: redis.url, maxLength: 50, watchdogMs: 300, maxPerOwner: 2 });
    await queue.ready();
    const worker: VellumWorker = startWorker({ redisUrl: redis.url, generator, resolveModel: resolveTestModel, devices: 2 });
    return { queue, close: () => worker.close(true) };
  },
  stop: async () => {
    await redis?.stop();
  },
};

describe.each(hasRedisServer ? [inProcess, bullmq] : [inProcess])("WebSocket sessions and per-key limit: $name", (backend) => {
  let server: VellumServer;
  let backendParts: { close(): Promise<void> };
  const gen = observed();
  beforeAll(async () => {
    const parts = await backend.queue(gen.generator);
    backendParts = parts;
    const config = buildServerConfig({
      host: "127.0.0.1",
      port: 0,
      dataDir: mkdtempSync(join(tmpdir(), "vellum-session-")),
      apiKeys: [API_KEY],
      logLevel: "silent",
      shutdownGraceMs: 200,
      resumeGraceMs: GRACE_MS,
      maxTasksPerKey: 2,
      devices: 2,
    });
    server = await startVellumServer({ config, catalog: clusterCatalog(), generator: gen.generator, logger: createLogger("silent"), ...(parts.queue !== undefined && { queue: parts.queue }) });
  });
  afterAll(async () => {
    await server?.close();
    await backendParts?.close();
    await backend.stop();
  });

  it("cancels the running task of a session not resumed within resumeGraceMs and never delivers it", async () => {
    const { c, session } = await authed(server);
    const t = task(); // 100 steps × 20 ms: still running long after the grace period
    c.send([t]);
    await until(() => gen.started.has(t.taskUUID), 5000, "the task to start");
    const closedAt = Date.now();
    await c.close();
    await sleep(GRACE_MS / 2);
    expect(gen.aborted.has(t.taskUUID)).toBe(false); // still within the grace period
    await until(() => gen.aborted.has(t.taskUUID), 3000, "the task to be cancelled");
    expect(gen.aborted.get(t.taskUUID)! - closedAt).toBeGreaterThanOrEqual(GRACE_MS - 20);
    // The expired session cannot be resumed: a new one, and nothing about the cancelled task ever arrives.
    const late = await authed(server, session);
    expect(late.session).not.toBe(session);
    await sleep(400);
    expect(late.c.frames.filter((f) => [...items(f), ...errs(f)].some((x) => x.taskUUID === t.taskUUID))).toEqual([]);
    await late.c.close();
  });

  it("keeps the task of a session resumed within resumeGraceMs and delivers its result", async () => {
    const { c, session } = await authed(server);
    const t = task({ steps: 40 }); // ~0.8 s: ends well after the grace period would have cancelled it
    c.send([t]);
    await until(() => gen.started.has(t.taskUUID), 5000, "the task to start");
    await c.close();
    await sleep(GRACE_MS / 3);
    const back = await authed(server, session);
    expect(back.session).toBe(session);
    const result = await back.c.waitFor((f) => items(f).some((x) => x.taskUUID === t.taskUUID && x.taskType === "imageInference"), 0, 10_000);
    expect(items(result)[0]!.imageBase64Data).toEqual(expect.any(String));
    expect(gen.aborted.has(t.taskUUID)).toBe(false);
    await back.c.close();
  });

  it("refuses a key's third concurrent task with rateLimitExceeded naming the limit and the taskUUID", async () => {
    const { c } = await authed(server);
    const [a, b, x] = [task({ steps: 30 }), task({ steps: 30 }), task({ steps: 3 })];
    c.send([a, b]);
    await until(() => gen.started.has(a.taskUUID) || gen.started.has(b.taskUUID), 5000, "a task to start");
    c.send([x]);
    const f = await c.waitFor((fr) => errs(fr).some((e) => e.taskUUID === x.taskUUID));
    const e = errs(f).find((er) => er.taskUUID === x.taskUUID)!;
    expect(e).toMatchObject({ code: "rateLimitExceeded", taskType: "imageInference", taskUUID: x.taskUUID });
    expect(String(e.message)).toContain("at most 2");
    await c.waitFor((fr) => items(fr).some((i) => i.taskUUID === b.taskUUID), 0, 10_000);
    await c.waitFor((fr) => items(fr).some((i) => i.taskUUID === a.taskUUID), 0, 10_000);
    const y = task({ steps: 3 });
    c.send([y]);
    await c.waitFor((fr) => items(fr).some((i) => i.taskUUID === y.taskUUID), 0, 10_000);
    await c.close();
  });
});
