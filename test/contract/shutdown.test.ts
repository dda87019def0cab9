// Graceful shutdown: a task still running after shutdownGraceMs fails with an error frame carrying its taskUUID.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Generator } from "../../src/jobs/types.js";
import { connectRaw, errs, items } from "./helpers/raw-ws.js";
import { API_KEY, SD1_AIR, startTestServer, wsUrl } from "./helpers/test-server.js";

/** Never finishes unless aborted (checks its signal every few ms, like a denoising loop between steps). */
const endless: Generator = async function* (_req, ctx) {
  for (;;) {
    await new Promise((r) => setTimeout(r, 5));
    if (ctx.signal.aborted) throw ctx.signal.reason;
    yield* [];
  }
};

describe("graceful shutdown", () => {
  it("fails a running task with an error frame, then closes", async () => {
    const server = await startTestServer({ generator: endless, settings: { shutdownGraceMs: 100 } });
    const c = await connectRaw(wsUrl(server));
    c.send([{ taskType: "authentication", apiKey: API_KEY }]);
    await c.waitFor((f) => items(f)[0]?.taskType === "authentication");
    const taskUUID = randomUUID();
    c.send([{ taskType: "imageInference", taskUUID, positivePrompt: "forever", model: SD1_AIR, width: 128, height: 128 }]);
    await new Promise((r) => setTimeout(r, 50));
    await server.close();
    const f = await c.waitFor((x) => errs(x).length > 0);
    expect(errs(f)[0]).toMatchObject({ code: "serviceUnavailable", taskUUID, taskType: "imageInference" });
    await c.close();
  });
});
