// Two API nodes and two workers in separate processes on one redis-server: every task answered exactly once across
// nodes, a worker SIGKILLed mid-task, getResponse on the other node, and a Redis restart.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errs, items, type RawClient } from "../contract/helpers/raw-ws.js";
import { startCluster, type Cluster } from "./helpers/cluster.js";
import { TEST_MODEL } from "./helpers/ticking-generator.js";
import { hasRedisServer } from "../helpers/system-tools.js";

let cluster: Cluster;
beforeAll(async () => {
  if (!hasRedisServer) return;
  cluster = await startCluster({ apis: 2, workers: 2, workerEnv: { STEP_MS: "5", LOCK_MS: "2000" } });
});
afterAll(async () => {
  await cluster?.stop();
});

const task = (extra: Record<string, unknown> = {}) => ({
  taskType: "imageInference",
  taskUUID: randomUUID(),
  positivePrompt: "queue test",
  model: TEST_MODEL.air,
  width: 128,
  height: 128,
  steps: 3,
  numberResults: 1,
  outputType: "base64Data",
  ...extra,
});

/** Everything the client received about one task: result items and error objects. */
function answers(c: RawClient, taskUUID: string): { results: Record<string, unknown>[]; errors: Record<string, unknown>[] } {
  const results = c.frames.flatMap(items).filter((i) => i.taskUUID === taskUUID && i.taskType === "imageInference");
  const errors = c.frames.flatMap(errs).filter((e) => e.taskUUID === taskUUID);
  return { results, errors };
}

async function settled(c: RawClient, taskUUID: string, images: number, timeoutMs = 30_000): Promise<void> {
  await c.waitFor(() => {
    const a = answers(c, taskUUID);
    return a.errors.length > 0 || a.results.length >= images;
  }, 0, timeoutMs);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!hasRedisServer)("cluster: 2 API nodes, 2 workers, one Redis", () => {
  it("answers 100 tasks from 20 clients spread over both API nodes exactly once", async () => {
    const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => cluster.client(i % 2)));
    const sent = clients.map((c) => {
      const tasks = Array.from({ length: 5 }, (_, k) => task({ seed: 1000 + k }));
      c.send(tasks);
      return tasks.map((t) => t.taskUUID);
    });
    await Promise.all(clients.flatMap((c, i) => sent[i]!.map((id) => settled(c, id, 1, 60_000))));
    await sleep(500); // anything delivered twice would arrive by now
    for (const [i, c] of clients.entries()) {
      for (const id of sent[i]!) {
        const a = answers(c, id);
        expect(a.errors).toEqual([]);
        expect(a.results).toHaveLength(1);
        expect(a.results[0]).toMatchObject({ taskUUID: id, imageBase64Data: expect.any(String) });
      }
      // nothing about other clients' tasks leaked to this socket
      const mine = new Set<string>(sent[i]);
      expect(c.frames.flatMap(items).filter((x) => x.taskType === "imageInference" && !mine.has(String(x.taskUUID)))).toEqual([]);
    }
    const byWorker = cluster.workers.map((w) => w.lines.filter((l) => l.message === "job started").length);
    expect(byWorker.every((n) => n > 0)).toBe(true); // both workers took jobs
    await Promise.all(clients.map((c) => c.close()));
  });

  it("retries a task whose worker is SIGKILLed mid-task on the other worker, delivering each image once", async () => {
    const c = await cluster.client(0);
    const t = task({ steps: 100, numberResults: 2 });
    c.send([t]);
    const isMine = (l: Record<string, unknown>) => l.message === "job started" && l.taskUUID === t.taskUUID;
    const victim = await Promise.race(cluster.workers.map((w) => w.waitFor(isMine, 20_000).then(() => w)));
    await sleep(150);
    await victim.kill("SIGKILL");
    cluster.workers.splice(cluster.workers.indexOf(victim), 1);
    await settled(c, t.taskUUID, 2, 30_000);
    await sleep(500);
    const a = answers(c, t.taskUUID);
    expect(a.errors).toEqual([]);
    expect(a.results).toHaveLength(2);
    expect(new Set(a.results.map((r) => r.imageBase64Data)).size).toBe(2);
    expect(cluster.workers.some((w) => w.lines.some(isMine))).toBe(true); // the survivor ran the retry
    await c.close();
    await cluster.addWorker();
  });

  it("getResponse on the other API node returns an async task's results", async () => {
    const a = await cluster.client(0);
    const b = await cluster.client(1);
    const t = task({ deliveryMethod: "async", numberResults: 2 });
    a.send([t]);
    await a.waitFor((f) => items(f).some((i) => i.taskUUID === t.taskUUID && i.status === "processing"));
    let successes: Record<string, unknown>[] = [];
    for (let i = 0; i < 100 && successes.length < 2; i++) {
      const from = b.frames.length;
      b.send([{ taskType: "getResponse", taskUUID: t.taskUUID }]);
      const f = await b.waitFor((x) => items(x).some((y) => y.taskUUID === t.taskUUID) || errs(x).length > 0, from);
      successes = items(f).filter((y) => y.status === "success");
      if (successes.length < 2) await sleep(100);
    }
    expect(successes).toHaveLength(2);
    expect(successes[0]).toMatchObject({ taskType: "imageInference", taskUUID: t.taskUUID, imageBase64Data: expect.any(String) });
    await Promise.all([a.close(), b.close()]);
  });

  it("survives a Redis restart: running and lost waiting tasks are answered once (result or error), new tasks run", async () => {
    const clients = await Promise.all([cluster.client(0), cluster.client(1)]);
    // 6 long tasks on 2 workers: 2 run through the restart, 4 wait in the queue Redis forgets
    const inflight = clients.map((c) => {
      const tasks = Array.from({ length: 3 }, () => task({ steps: 60 }));
      c.send(tasks);
      return tasks.map((t) => t.taskUUID);
    });
    await sleep(150);
    await cluster.redis.restart(300);
    await Promise.all(clients.flatMap((c, i) => inflight[i]!.map((id) => settled(c, id, 1, 30_000))));
    const after = clients.map((c) => {
      const t = task();
      c.send([t]);
      return t.taskUUID;
    });
    await Promise.all(clients.map((c, i) => settled(c, after[i]!, 1, 30_000)));
    await sleep(500);
    const outcomes: string[] = [];
    for (const [i, c] of clients.entries()) {
      for (const id of inflight[i]!) {
        const a = answers(c, id);
        expect(a.results.length + a.errors.length).toBe(1);
        outcomes.push(a.results.length > 0 ? "result" : String(a.errors[0]!.code));
      }
      const now = answers(c, after[i]!);
      expect(now.errors).toEqual([]);
      expect(now.results).toHaveLength(1);
    }
    expect(outcomes).toContain("serviceUnavailable"); // the forgotten waiting tasks fail with a clear error
    await Promise.all(clients.map((c) => c.close()));
  });
});
