// End to end across processes with the real pipeline: an API node and a worker process running the tiny golden SD1
// model over Redis produce the same PNG bytes as an in-process server running the same request.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/api/logger.js";
import { startVellumServer, type VellumServer } from "../../src/api/server.js";
import { buildServerConfig } from "../../src/config/server-config.js";
import { createPipelineGenerator, type PipelineGenerator } from "../../src/jobs/pipeline-generator.js";
import { connectRaw, errs, items } from "../contract/helpers/raw-ws.js";
import { API_KEY, clusterCatalog, TINY_SD1_AIR } from "./helpers/cluster-catalog.js";
import { startCluster, type Cluster } from "./helpers/cluster.js";
import { hasRedisServer } from "../helpers/system-tools.js";

let cluster: Cluster;
let local: VellumServer;
let pipelines: PipelineGenerator;
beforeAll(async () => {
  if (!hasRedisServer) return;
  cluster = await startCluster({ apis: 1, workers: 1, workerEnv: { GENERATOR: "pipeline" } });
  pipelines = createPipelineGenerator({ maxPipelines: 1, threads: 1 });
  const config = buildServerConfig({ host: "127.0.0.1", port: 0, dataDir: mkdtempSync(join(tmpdir(), "vellum-local-")), apiKeys: [API_KEY], logLevel: "silent" });
  local = await startVellumServer({ config, catalog: clusterCatalog(), generator: pipelines.generate, logger: createLogger("silent") });
});
afterAll(async () => {
  await local?.close();
  await pipelines?.close();
  await cluster?.stop();
});

async function run(url: string, taskUUID: string): Promise<{ results: Record<string, unknown>[]; progress: number }> {
  const c = await connectRaw(url.replace(/^http/, "ws"));
  c.send([{ taskType: "authentication", apiKey: API_KEY }]);
  await c.waitFor((f) => items(f)[0]?.taskType === "authentication");
  c.send([{ taskType: "imageInference", taskUUID, positivePrompt: "a red boat on a lake", model: TINY_SD1_AIR, width: 128, height: 128, steps: 2, seed: 1234, numberResults: 2, outputType: "base64Data", outputFormat: "PNG", includeProgress: true }]);
  const done = () => c.frames.flatMap(items).filter((i) => i.taskType === "imageInference" && i.taskUUID === taskUUID);
  await c.waitFor((f) => errs(f).length > 0 || done().length >= 2, 0, 90_000);
  const progress = c.frames.flatMap(items).filter((i) => i.taskType === "imageInferenceProgress").length;
  expect(c.frames.flatMap(errs)).toEqual([]);
  await c.close();
  return { results: done(), progress };
}

describe.skipIf(!hasRedisServer)("cluster with the real tiny SD1 model", () => {
  it("a worker process renders the same images as the in-process server, with progress per step", async () => {
    const remote = await run(cluster.apis[0]!.url, randomUUID());
    const inProcess = await run(local.url, randomUUID());
    expect(remote.results).toHaveLength(2);
    expect(remote.progress).toBeGreaterThan(0); // streamed from the worker process, as many as in-process
    expect(remote.progress).toBe(inProcess.progress);
    const pick = (r: Record<string, unknown>[]) => r.map((i) => [i.seed, i.imageBase64Data]);
    expect(pick(remote.results)).toEqual(pick(inProcess.results));
    expect(remote.results.map((i) => i.clipSkipApplied)).toEqual(inProcess.results.map((i) => i.clipSkipApplied));
  });
});
