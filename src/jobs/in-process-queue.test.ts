import { describe, expect, it } from "vitest";
import { createInProcessQueue } from "./in-process-queue.js";
import { QueueClosedError, QueueFullError, type GenerateRequest, type Generator, type JobEvent } from "./types.js";

const request = (taskUUID: string): GenerateRequest =>
  ({ taskUUID, numberResults: 2, seed: 10n, steps: 3 }) as unknown as GenerateRequest;

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
});
