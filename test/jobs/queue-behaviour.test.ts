// One behavioural suite, two backends: the in-process queue and the BullMQ queue with a worker on a real redis-server.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createBullmqQueue } from "../../src/jobs/bullmq-queue.js";
import { createInProcessQueue } from "../../src/jobs/in-process-queue.js";
import { QueueClosedError, QueueFullError, type Generator, type JobEvent, type Queue } from "../../src/jobs/types.js";
import { startWorker, type VellumWorker } from "../../src/jobs/worker.js";
import { startRedis, type TestRedis } from "./helpers/redis-server.js";
import { resolveTestModel, testRequest, tickingGenerator } from "./helpers/ticking-generator.js";

interface Backend {
  readonly name: string;
  setup(): Promise<void>;
  make(maxLength: number, generator?: Generator): Promise<Queue>;
  teardown(): Promise<void>;
  stop(): Promise<void>;
}

function inProcess(): Backend {
  return {
    name: "in-process",
    setup: async () => {},
    make: async (maxLength, generator = tickingGenerator()) => createInProcessQueue({ generator, maxLength }),
    teardown: async () => {},
    stop: async () => {},
  };
}

function bullmq(): Backend {
  let redis: TestRedis | undefined;
  const open: { queue: Queue; worker: VellumWorker }[] = [];
  return {
    name: "bullmq",
    setup: async () => {
      redis = await startRedis();
    },
    make: async (maxLength, generator = tickingGenerator()) => {
      await redis!.flush();
      const queue = createBullmqQueue({ redisUrl: redis!.url, maxLength, watchdogMs: 300 });
      await queue.ready();
      const worker = startWorker({ redisUrl: redis!.url, generator, resolveModel: resolveTestModel });
      open.push({ queue, worker });
      return queue;
    },
    teardown: async () => {
      for (const { queue, worker } of open.splice(0)) {
        await queue.close(0);
        await worker.close(true);
      }
    },
    stop: async () => {
      await redis?.stop();
    },
  };
}

function collect(): { events: JobEvent[]; settled: Promise<JobEvent>; listener: (e: JobEvent) => void } {
  const events: JobEvent[] = [];
  let resolve!: (e: JobEvent) => void;
  const settled = new Promise<JobEvent>((r) => (resolve = r));
  return {
    events,
    settled,
    listener: (e) => {
      events.push(e);
      if (e.type === "done" || e.type === "failed") resolve(e);
    },
  };
}

describe.each([inProcess(), bullmq()])("queue behaviour: $name", (backend) => {
  beforeAll(() => backend.setup());
  afterEach(() => backend.teardown());
  afterAll(() => backend.stop());

  it("streams started, progress per step and images in order, then done exactly once", async () => {
    const q = await backend.make(4);
    const c = collect();
    const seed = (1n << 62n) + 5n; // beyond 2^53: must cross processes exactly
    q.submit("a", testRequest("a", { seed }), c.listener);
    expect((await c.settled).type).toBe("done");
    await new Promise((r) => setTimeout(r, 50));
    const types = c.events.map((e) => e.type);
    expect(types[0]).toBe("started");
    expect(types.filter((t) => t === "progress")).toHaveLength(6);
    expect(types.filter((t) => t === "done" || t === "failed")).toEqual(["done"]);
    const images = c.events.flatMap((e) => (e.type === "image" ? [e.image] : []));
    expect(images.map((i) => [i.index, i.seed])).toEqual([[0, seed], [1, seed + 1n]]);
    expect(new TextDecoder().decode(images[1]!.bytes)).toBe(`a/1/${seed + 1n}`);
  });

  it("runs one job at a time per device, in submission order", async () => {
    const q = await backend.make(4);
    const log: string[] = [];
    const done = ["x", "y", "z"].map((id) => {
      const c = collect();
      q.submit(id, testRequest(id), (e) => {
        if (e.type === "started" || e.type === "done") log.push(`${id}:${e.type}`);
        c.listener(e);
      });
      return c.settled;
    });
    await Promise.all(done);
    expect(log).toEqual(["x:started", "x:done", "y:started", "y:done", "z:started", "z:done"]);
  });

  it("refuses jobs beyond maxLength with a serviceUnavailable error", async () => {
    const q = await backend.make(2);
    q.submit("1", testRequest("1"), () => {});
    q.submit("2", testRequest("2"), () => {});
    let thrown: unknown;
    try {
      q.submit("3", testRequest("3"), () => {});
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(QueueFullError);
    expect((thrown as QueueFullError).code).toBe("serviceUnavailable");
  });

  it("keeps working after a throwing task", async () => {
    const q = await backend.make(4);
    const bad = collect();
    const good = collect();
    q.submit("boom", testRequest("boom"), bad.listener);
    q.submit("ok", testRequest("ok"), good.listener);
    expect(await bad.settled).toEqual({ type: "failed", error: { code: "inferenceError", message: "exploded" } });
    expect((await good.settled).type).toBe("done");
  });

  it("cancels a running job between steps and a waiting one before it starts", async () => {
    const q = await backend.make(4);
    const running = collect();
    const waiting = collect();
    q.submit("r", testRequest("r", { steps: 1000 }), (e) => {
      running.listener(e);
      if (e.type === "progress" && e.step === 3) q.cancel("r");
    });
    q.submit("w", testRequest("w"), waiting.listener);
    expect(q.cancel("w")).toBe(true);
    const end = await running.settled;
    expect(end.type === "failed" && end.error.code).toBe("taskCancelled");
    expect(running.events.filter((e) => e.type === "progress").length).toBeLessThan(200);
    const w = await waiting.settled;
    expect(w.type === "failed" && w.error.code).toBe("taskCancelled");
    expect(waiting.events.some((e) => e.type === "started")).toBe(false);
    expect(q.cancel("nope")).toBe(false);
  });

  it("close fails waiting jobs, aborts running ones after the grace period, and refuses new ones", async () => {
    const q = await backend.make(4);
    const running = collect();
    const waiting = collect();
    q.submit("r", testRequest("r", { steps: 100000 }), running.listener);
    q.submit("w", testRequest("w"), waiting.listener);
    await new Promise((r) => setTimeout(r, 200));
    await q.close(30);
    const r = await running.settled;
    const w = await waiting.settled;
    expect(r.type === "failed" && r.error.code).toBe("serviceUnavailable");
    expect(w.type === "failed" && w.error.code).toBe("serviceUnavailable");
    expect(() => q.submit("late", testRequest("late"), () => {})).toThrow(QueueClosedError);
  });
});
