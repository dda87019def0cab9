import { describe, expect, it } from "vitest";
import { createInProcessQueue } from "./in-process-queue.js";
import { OwnerLimitError, type GenerateRequest, type Generator, type JobEvent } from "./types.js";

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

// The behaviour both queue backends share (order, limits, cancel, close, failures) is tested once, on both, in
// test/jobs/queue-behaviour.test.ts; this file holds what is particular to the in-process queue.
describe("in-process queue", () => {
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

  it("frees an owner's slot as soon as the task's last image is out, before the generator winds down", async () => {
    let release!: () => void;
    const windDown = new Promise<void>((r) => (release = r));
    const slowEnd: Generator = async function* (req, ctx) {
      yield* ticking({ ...req, numberResults: 1 }, ctx);
      await windDown; // clean-up after the last image (e.g. returning a pooled model)
    };
    const q = createInProcessQueue({ generator: slowEnd, maxLength: 10, maxPerOwner: 1 });
    const sawImage = new Promise<void>((resolve) => {
      q.submit("k1", { ...request("k1"), numberResults: 1 } as GenerateRequest, (e) => e.type === "image" && resolve(), { owner: "alice" });
    });
    await sawImage;
    expect(() => q.submit("k2", request("k2"), () => {}, { owner: "alice" })).not.toThrow();
    release();
  });
});
