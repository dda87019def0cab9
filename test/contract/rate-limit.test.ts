// Per-API-key concurrency limit (maxTasksPerKey) on the real server with the real pipeline: over WebSocket the task
// beyond the limit gets a Runware-style rateLimitExceeded error naming the limit and its taskUUID, over REST a 429;
// the key's tasks within the limit still produce their images, and the slot is free again afterwards.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectRaw, errs, items } from "./helpers/raw-ws.js";
import { API_KEY, SD1_AIR, startTestServer, wsUrl, type TestServer } from "./helpers/test-server.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ settings: { maxTasksPerKey: 1 } });
});
afterAll(async () => {
  await server?.close();
});

const inference = (extra: Record<string, unknown> = {}) => ({
  taskType: "imageInference",
  taskUUID: randomUUID(),
  positivePrompt: "a lighthouse",
  model: SD1_AIR,
  width: 128,
  height: 128,
  steps: 2,
  outputType: "base64Data",
  ...extra,
});

describe("per-key task limit", () => {
  it("refuses a WebSocket task beyond maxTasksPerKey with rateLimitExceeded, then accepts once the first finished", async () => {
    const c = await connectRaw(wsUrl(server));
    c.send([{ taskType: "authentication", apiKey: API_KEY }]);
    await c.waitFor((f) => items(f)[0]?.taskType === "authentication");
    const [first, second] = [inference(), inference()];
    c.send([first, second]);
    const refused = await c.waitFor((f) => errs(f).some((e) => e.taskUUID === second.taskUUID));
    expect(errs(refused)[0]).toEqual({
      code: "rateLimitExceeded",
      message: expect.stringContaining("at most 1 may be running or queued"),
      taskType: "imageInference",
      taskUUID: second.taskUUID,
    });
    const done = await c.waitFor((f) => items(f).some((i) => i.taskUUID === first.taskUUID), 0, 60_000);
    expect(items(done)[0]!.imageBase64Data).toEqual(expect.any(String));
    const third = inference();
    c.send([third]);
    const ok = await c.waitFor((f) => items(f).some((i) => i.taskUUID === third.taskUUID) || errs(f).some((e) => e.taskUUID === third.taskUUID), 0, 60_000);
    expect(errs(ok)).toEqual([]);
    await c.close();
  });

  it("answers REST with 429 when every task of the request is over the limit", async () => {
    const c = await connectRaw(wsUrl(server));
    c.send([{ taskType: "authentication", apiKey: API_KEY }]);
    await c.waitFor((f) => items(f)[0]?.taskType === "authentication");
    const busy = inference({ steps: 20 });
    c.send([busy]);
    await new Promise((r) => setTimeout(r, 50));
    const t = inference();
    const res = await fetch(`${server.url}/v1`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` }, body: JSON.stringify([t]) });
    expect(res.status).toBe(429);
    const body = (await res.json()) as { errors: Record<string, unknown>[] };
    expect(body.errors[0]).toMatchObject({ code: "rateLimitExceeded", taskUUID: t.taskUUID });
    await c.waitFor((f) => items(f).some((i) => i.taskUUID === busy.taskUUID) || errs(f).some((e) => e.taskUUID === busy.taskUUID), 0, 60_000);
    await c.close();
  });
});
