// One behavioural suite, two backends: the in-process queue and the BullMQ queue with a worker on a real redis-server.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createBullmqQueue } from "../../src/jobs/bullmq-queue.js";
import { createInProcessQueue } from "../../src/jobs/in-process-queue.js";
import { OwnerLimitError, QueueClosedError, QueueFullError, type Generator, type JobEvent, type Queue } from "../../src/jobs/types.js";
import { startWorker, type VellumWorker } from "../../src/jobs/worker.js";
import { startRedis, type TestRedis } from "./helpers/redis-server.js";
import { resolveTestModel, TEST_MODEL, TEST_MODEL_B, testRequest, tickingGenerator } from "./helpers/ticking-generator.js";
import { hasRedisServer } from "../helpers/system-tools.js";

interface MakeOptions {
  readonly maxPerOwner?: number;
  /** The models the generator holds (model affinity). */
  readonly heldModels?: () => readonly string[];
  /** No passing over at all: in-process maxPassOvers 0, BullMQ maxPassMs 0. */
  readonly isStrictFifo?: boolean;
}

interface Backend {
  readonly name: string;
  setup(): Promise<void>;
  make(maxLength: number, generator?: Generator, options?: MakeOptions): Promise<Queue>;
  teardown(): Promise<void>;
  stop(): Promise<void>;
}

function inProcess(): Backend {
  return {
    name: "in-process",
    setup: async () => {},
    make: async (maxLength, generator = tickingGenerator(), o = {}) =>
      createInProcessQueue({
        generator,
        maxLength,
        ...(o.maxPerOwner !== undefined && { maxPerOwner: o.maxPerOwner }),
        ...(o.heldModels !== undefined && { heldModels: o.heldModels }),
        ...(o.isStrictFifo === true && { maxPassOvers: 0 }),
      }),
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
    make: async (maxLength, generator = tickingGenerator(), o = {}) => {
      await redis!.flush();
      const queue = createBullmqQueue({ redisUrl: redis!.url, maxLength, watchdogMs: 300, ...(o.maxPerOwner !== undefined && { maxPerOwner: o.maxPerOwner }) });
      await queue.ready();
      const worker = startWorker({
        redisUrl: redis!.url,
        generator,
        resolveModel: resolveTestModel,
        ...(o.heldModels !== undefined && { heldModels: o.heldModels }),
        ...(o.isStrictFifo === true && { maxPassMs: 0 }),
      });
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

describe.each(hasRedisServer ? [inProcess(), bullmq()] : [inProcess()])("queue behaviour: $name", (backend) => {
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

  it("refuses a key's task beyond maxPerOwner running + queued tasks with rateLimitExceeded, other keys unaffected", async () => {
    const q = await backend.make(10, tickingGenerator(), { maxPerOwner: 2 });
    const first = collect();
    q.submit("k1", testRequest("k1", { steps: 20 }), first.listener, { owner: "alice" });
    q.submit("k2", testRequest("k2"), () => {}, { owner: "alice" });
    let thrown: unknown;
    try {
      q.submit("k3", testRequest("k3"), () => {}, { owner: "alice" });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(OwnerLimitError);
    expect((thrown as OwnerLimitError).code).toBe("rateLimitExceeded");
    expect((thrown as Error).message).toContain("at most 2");
    const bob = collect();
    q.submit("b1", testRequest("b1"), bob.listener, { owner: "bob" });
    expect((await first.settled).type).toBe("done");
    const again = collect();
    q.submit("k4", testRequest("k4"), again.listener, { owner: "alice" });
    expect((await again.settled).type).toBe("done");
    expect((await bob.settled).type).toBe("done");
  });

  /** Runs a blocker (model A), then b1 (B), a1, a2 (A) submitted while it runs; the generator holds the last model. */
  async function affinityOrder(options: MakeOptions): Promise<string[]> {
    let held: string[] = [];
    const order: string[] = [];
    const ticking = tickingGenerator();
    const gen: Generator = async function* (req, ctx) {
      order.push(req.taskUUID);
      held = [req.model.air];
      yield* ticking(req, ctx);
    };
    const q = await backend.make(10, gen, { ...options, heldModels: () => held });
    const blocker = collect();
    q.submit("blocker", testRequest("blocker", { steps: 60, numberResults: 1 }), blocker.listener);
    await new Promise<void>((resolve) => {
      const waitStart = setInterval(() => order.length > 0 && (clearInterval(waitStart), resolve()), 5);
    });
    const rest: Promise<JobEvent>[] = [];
    for (const [id, model] of [["b1", TEST_MODEL_B], ["a1", TEST_MODEL], ["a2", TEST_MODEL]] as const) {
      const c = collect();
      q.submit(id, testRequest(id, { model, numberResults: 1 }), c.listener);
      rest.push(c.settled);
      await new Promise((r) => setTimeout(r, 15)); // distinct submission times (BullMQ compares them in ms)
    }
    await Promise.all([blocker.settled, ...rest]);
    return order;
  }

  it("model affinity: a free worker takes waiting tasks of the model it holds first", async () => {
    expect(await affinityOrder({})).toEqual(["blocker", "a1", "a2", "b1"]);
  });

  it("model affinity is bounded: with a zero bound the order stays first in, first out", async () => {
    expect(await affinityOrder({ isStrictFifo: true })).toEqual(["blocker", "b1", "a1", "a2"]);
  });
});

describe.skipIf(!hasRedisServer)("BullMQ specifics", () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis.stop());

  it("counts a key's tasks on every node: the node over the limit answers rateLimitExceeded, then frees the slot", async () => {
    const [n1, n2] = [0, 1].map(() => createBullmqQueue({ redisUrl: redis.url, maxLength: 10, watchdogMs: 300, maxPerOwner: 2 }));
    await Promise.all([n1!.ready(), n2!.ready()]);
    const worker = startWorker({ redisUrl: redis.url, generator: tickingGenerator(), resolveModel: resolveTestModel });
    try {
      const [a, b, c] = [collect(), collect(), collect()];
      n1!.submit("a", testRequest("a", { steps: 30 }), a.listener, { owner: "alice" });
      n1!.submit("b", testRequest("b", { steps: 30 }), b.listener, { owner: "alice" });
      await new Promise((r) => setTimeout(r, 100)); // both claimed their slots in Redis
      n2!.submit("c", testRequest("c"), c.listener, { owner: "alice" }); // this node has none of alice's tasks
      const refused = await c.settled;
      expect(refused.type === "failed" && refused.error.code).toBe("rateLimitExceeded");
      expect(c.events.some((e) => e.type === "started")).toBe(false);
      expect((await a.settled).type).toBe("done");
      const d = collect();
      n2!.submit("d", testRequest("d"), d.listener, { owner: "alice" });
      expect((await d.settled).type).toBe("done");
      expect((await b.settled).type).toBe("done");
    } finally {
      await Promise.all([n1!.close(0), n2!.close(0)]);
      await worker.close(true);
    }
  });

  it("renews the lock of a job fetched by the worker itself: a job 3× longer than the lock runs once", async () => {
    await redis.flush();
    const q = createBullmqQueue({ redisUrl: redis.url, maxLength: 10, watchdogMs: 300 });
    await q.ready();
    const starts: string[] = [];
    const worker = startWorker({
      redisUrl: redis.url,
      generator: tickingGenerator(5),
      resolveModel: resolveTestModel,
      devices: 2, // a free device would take the job again if its lock lapsed
      lockDurationMs: 500,
      stalledIntervalMs: 250,
      log: (message) => message === "job started" && starts.push(message),
    });
    try {
      const c = collect();
      q.submit("long", testRequest("long", { steps: 300, numberResults: 1 }), c.listener); // ≥ 1.5 s
      expect((await c.settled).type).toBe("done");
      await new Promise((r) => setTimeout(r, 800)); // a stalled-and-retried job would start again by now
      expect(starts).toHaveLength(1);
    } finally {
      await q.close(0);
      await worker.close(true);
    }
  });
});
