// The commands as an operator runs them: `vellum serve --redis URL --no-worker` and `vellum worker --redis URL` over one
// models folder (same AIRs from the same folder scan), rendering the tiny golden SD1 model.
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FolderCatalog } from "../../src/catalog/catalog.js";
import { worker } from "../../src/cli/worker.js";
import { connectRaw, errs, items } from "../contract/helpers/raw-ws.js";
import { tinySd1Dir } from "./helpers/cluster-catalog.js";
import { fixturePath, startProc, type Proc } from "./helpers/processes.js";
import { startRedis, type TestRedis } from "./helpers/redis-server.js";
import { hasRedisServer } from "../helpers/system-tools.js";

const KEY = "cli-test-key-0123456789";
let redis: TestRedis;
const procs: Proc[] = [];
let models: string;

beforeAll(async () => {
  if (!hasRedisServer) return;
  redis = await startRedis();
  const root = mkdtempSync(join(tmpdir(), "vellum-cli-"));
  models = join(root, "models");
  mkdirSync(models);
  symlinkSync(tinySd1Dir(), join(models, "tiny-sd1"), "dir");
});
afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill("SIGTERM")));
  await redis?.stop();
});

describe.skipIf(!hasRedisServer)("vellum serve --redis / vellum worker", () => {
  it("refuses to start a worker without --redis", async () => {
    expect(await worker(["--models", "/nonexistent"])).toBe(2);
  });

  it("an API-only serve node and a separate worker process answer a task", async () => {
    const root = mkdtempSync(join(tmpdir(), "vellum-cli-data-"));
    const catalog = await FolderCatalog.open({ modelsDir: models, dataDir: join(root, "probe"), demo: false });
    const air = catalog.list().find((e) => e.category === "checkpoint")!.air;
    const serve = startProc(fixturePath("cli.ts"), {}, ["serve", "--redis", redis.url, "--no-worker", "--port", "0", "--models", models, "--data", join(root, "api"), "--api-key", KEY]);
    const work = startProc(fixturePath("cli.ts"), {}, ["worker", "--redis", redis.url, "--models", models, "--data", join(root, "worker")]);
    procs.push(serve, work);
    const url = String((await serve.waitFor((l) => l.msg === "vellum listening", 60_000)).url);
    await work.waitFor((l) => l.message === "vellum worker ready", 60_000);
    const c = await connectRaw(url.replace(/^http/, "ws"));
    c.send([{ taskType: "authentication", apiKey: KEY }]);
    await c.waitFor((f) => items(f)[0]?.taskType === "authentication");
    const taskUUID = randomUUID();
    c.send([{ taskType: "imageInference", taskUUID, positivePrompt: "a lighthouse", model: air, width: 128, height: 128, steps: 2, seed: 7, outputType: "base64Data", outputFormat: "PNG" }]);
    const f = await c.waitFor((x) => errs(x).length > 0 || items(x).some((i) => i.taskUUID === taskUUID && i.taskType === "imageInference"), 0, 90_000);
    expect(errs(f)).toEqual([]);
    const png = Buffer.from(String(items(f)[0]!.imageBase64Data), "base64");
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    expect(work.lines.some((l) => l.message === "job started" && l.taskUUID === taskUUID)).toBe(true);
    await c.close();
  });
});
