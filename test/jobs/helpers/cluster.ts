// Starts a cluster for tests: a redis-server, N API nodes and M workers, each in its own process.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectRaw, items, type RawClient } from "../../contract/helpers/raw-ws.js";
import { API_KEY } from "./cluster-catalog.js";
import { fixturePath, startProc, type Proc } from "./processes.js";
import { startRedis, type TestRedis } from "./redis-server.js";

export interface Cluster {
  readonly redis: TestRedis;
  readonly apis: { proc: Proc; url: string }[];
  readonly workers: Proc[];
  addWorker(): Promise<Proc>;
  client(apiIndex: number): Promise<RawClient>;
  stop(): Promise<void>;
}

export async function startCluster(opts: { apis: number; workers: number; workerEnv?: Record<string, string> }): Promise<Cluster> {
  const redis = await startRedis();
  const dataDir = mkdtempSync(join(tmpdir(), "vellum-cluster-"));
  const env = { VELLUM_REDIS: redis.url, VELLUM_DATA: dataDir };
  const workers: Proc[] = [];
  const addWorker = async () => {
    const w = startProc(fixturePath("worker-node.ts"), { ...env, ...opts.workerEnv });
    workers.push(w);
    await w.waitFor((l) => l.message === "ready", 60_000);
    return w;
  };
  const apiProcs = Array.from({ length: opts.apis }, () => startProc(fixturePath("api-node.ts"), env));
  const apis = await Promise.all(apiProcs.map(async (proc) => ({ proc, url: String((await proc.waitFor((l) => typeof l.url === "string", 60_000)).url) })));
  await Promise.all(Array.from({ length: opts.workers }, addWorker));
  return {
    redis,
    apis,
    workers,
    addWorker,
    async client(i) {
      const c = await connectRaw(apis[i]!.url.replace(/^http/, "ws"));
      c.send([{ taskType: "authentication", apiKey: API_KEY }]);
      await c.waitFor((f) => items(f)[0]?.taskType === "authentication");
      return c;
    },
    async stop() {
      await Promise.all([...apis.map((a) => a.proc.kill("SIGTERM")), ...workers.map((w) => w.kill("SIGKILL"))]);
      await redis.stop();
    },
  };
}
