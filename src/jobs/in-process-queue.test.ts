import { describe, expect, it } from "vitest";
import { createInProcessQueue } from "./in-process-queue.js";
import { OwnerLimitError, QueueClosedError, QueueFullError, type GenerateRequest, type Generator, type JobEvent } from "./types.js";

const request = (taskUUID: string, air = "test:unit@1"): GenerateRequest =>
  ({ taskUUID, model: { air }, numberResults: 2, seed: 10n, steps: 3 }) as unknown as GenerateRequest;

/** A generator that takes `steps` ticks per image, honours its signal between steps, and fails on prompt "boom". */
const ticking: Generator = async function* (req, ctx) {
  if (req.taskUUID.startsWith("boom")) throw Object.assign(new Error("exploded"), { code: "inferenceError" });
  for (let i = 0; i < req.numberResults; i++) {
    for (let step = 1; step <= req.steps; step++) {
      await new Promise((r) => setTimeout(r, 2));
      if (ctx.signal.aborted) throw ctx.signal.reason;
      ctx.onProgress({ step, total: req.steps, imageIndex: i });
    }
    yield { index: i, seed: req.seed + BigInt(i), bytes: new Uint8Array([i]), mime: "image/png" };
  }
};

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

describe("in-process queue", () => {
  it("streams progress and images in order and ends with done", async () => {
    const q = createInProcessQueue({ generator: ticking, maxLength: 4 });
    const c = collect();
    q.submit("a", request("a"), c.listener);
    expect((await c.settled).type).toBe("done");
    const types = c.events.map((e) => e.type);
    expect(types[0]).toBe("started");
    expect(types.filter((t) => t === "progress")).toHaveLength(6);
    const images = c.events.flatMap((e) => (e.type === "image" ? [e.image] : []));
    expect(images.map((i) => [i.index, i.seed])).toEqual([[0, 10n], [1, 11n]]);
  });

  it("runs one job at a time per device, in submission order", async () => {
    const q = createInProcessQueue({ generator: ticking, maxLength: 4 });
    const log: string[] = [];
    const done = ["x", "y", "z"].map((id) => {
      const c = collect();
      q.submit(id, request(id), (e) => {
        if (e.type === "started" || e.type === "done") log.push(`${id}:${e.type}`);
        c.listener(e);
      });
      return c.settled;
    });
    await Promise.all(done);
    expect(log).toEqual(["x:started", "x:done", "y:started", "y:done", "z:started", "z:done"]);
  });

  it("refuses jobs beyond maxLength with a serviceUnavailable error", () => {
    const q = createInProcessQueue({ generator: ticking, maxLength: 2 });
    q.submit("1", request("1"), () => {});
    q.submit("2", request("2"), () => {});
    let thrown: unknown;
    try {
      q.submit("3", request("3"), () => {});
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(QueueFullError);
    expect((thrown as QueueFullError).code).toBe("serviceUnavailable");
  });

  it("keeps working after a throwing task", async () => {
    const q = createInProcessQueue({ generator: ticking, maxLength: 4 });
    const bad = collect();
    const good = collect();
    q.submit("boom", request("boom"), bad.listener);
    q.submit("ok", request("ok"), good.listener);
    expect(await bad.settled).toEqual({ type: "failed", error: { code: "inferenceError", message: "exploded" } });
    expect((await good.settled).type).toBe("done");
  });

  it("cancels a running job between steps and a waiting one before it starts", async () => {
    const q = createInProcessQueue({ generator: ticking, maxLength: 4 });
    const running = collect();
    const waiting = collect();
    q.submit("r", { ...request("r"), steps: 1000 } as GenerateRequest, (e) => {
      running.listener(e);
      if (e.type === "progress" && e.step === 3) q.cancel("r");
    });
    q.submit("w", request("w"), waiting.listener);
    expect(q.cancel("w")).toBe(true);
    const end = await running.settled;
    expect(end.type === "failed" && end.error.code).toBe("taskCancelled");
    expect(running.events.filter((e) => e.type === "progress").length).toBeLessThan(10);
    const w = await waiting.settled;
    expect(w.type === "failed" && w.error.code).toBe("taskCancelled");
    expect(q.cancel("nope")).toBe(false);
  });

  it("close fails waiting jobs, aborts running ones after the grace period, and refuses new ones", async () => {
    const q = createInProcessQueue({ generator: ticking, maxLength: 4 });
    const running = collect();
    const waiting = collect();
    q.submit("r", { ...request("r"), steps: 100000 } as GenerateRequest, running.listener);
    q.submit("w", request("w"), waiting.listener);
    await new Promise((r) => setTimeout(r, 20));
    await q.close(30);
    const r = await running.settled;
    const w = await waiting.settled;
    expect(r.type === "failed" && r.error.code).toBe("serviceUnavailable");
    expect(w.type === "failed" && w.error.code).toBe("serviceUnavailable");
    expect(() => q.submit("late", request("late"), () => {})).toThrow(QueueClosedError);
  });

  it("prefers waiting jobs of a held model, passing a job over at most maxPassOvers times", async () => {
    let held: string[] = ["m:a@1"];
    const order: string[] = [];
    const gen: Generator = async function* (req, ctx) {
      order.push(req.taskUUID);
      held = [req.model.air]; // a pool of one: the model just used is the one held
      yield* ticking({ ...req, numberResults: 1 }, ctx);
    };
    const q = createInProcessQueue({ generator: gen, maxLength: 20, heldModels: () => held, maxPassOvers: 2 });
    const ids = ["a1", "b1", "a2", "a3", "a4", "b2", "a5"];
    const done = ids.map((id) => {
      const c = collect();
      q.submit(id, request(id, `m:${id[0]}@1`), c.listener);
      return c.settled;
    });
    await Promise.all(done);
    // a1 is the head; a2 and a3 pass b1 over (twice = the bound), so b1 runs next; then b2 (its model is now held)
    // passes a4 over once, and FIFO resumes.
    expect(order).toEqual(["a1", "a2", "a3", "b1", "b2", "a4", "a5"]);
  });

  it("refuses a job beyond maxPerOwner running + waiting jobs of that owner with rateLimitExceeded", async () => {
    const q = createInProcessQueue({ generator: ticking, maxLength: 10, maxPerOwner: 2 });
    const first = collect();
    q.submit("k1", request("k1"), first.listener, { owner: "alice" });
    q.submit("k2", request("k2"), () => {}, { owner: "alice" });
    let thrown: unknown;
    try {
      q.submit("k3", request("k3"), () => {}, { owner: "alice" });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(OwnerLimitError);
    expect((thrown as OwnerLimitError).code).toBe("rateLimitExceeded");
    expect((thrown as Error).message).toContain("at most 2");
    expect(() => q.submit("b1", request("b1"), () => {}, { owner: "bob" })).not.toThrow();
    await first.settled;
    expect(() => q.submit("k4", request("k4"), () => {}, { owner: "alice" })).not.toThrow();
  });
});
