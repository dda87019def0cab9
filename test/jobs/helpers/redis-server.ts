// Starts a throw-away redis-server on 127.0.0.1 (random free port, no persistence, temp dir) and can restart it on the
// same port (data is lost, as with a real restart without persistence).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";

export interface TestRedis {
  readonly url: string;
  readonly port: number;
  restart(downMs?: number): Promise<void>;
  flush(): Promise<void>;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPing(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on("error", () => {});
    try {
      await r.connect();
      await r.ping();
      r.disconnect();
      return;
    } catch {
      r.disconnect();
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${url}`);
      await new Promise((res) => setTimeout(res, 50));
    }
  }
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "vellum-redis-"));
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const launch = async () => {
    const c = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], { stdio: "ignore" });
    child = c;
    const spawnError = new Promise<never>((_, reject) =>
      c.once("error", (e: NodeJS.ErrnoException) =>
        reject(new Error(e.code === "ENOENT" ? "redis-server is not installed (Debian: apt-get install -y redis-server; .ci/run does it)" : e.message)),
      ),
    );
    await Promise.race([waitForPing(url, 10_000), spawnError]);
  };
  const kill = async () => {
    const c = child;
    if (c === undefined || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once("exit", () => resolve());
      c.kill("SIGKILL");
    });
  };
  await launch();
  return {
    url,
    port,
    async restart(downMs = 300) {
      await kill();
      await new Promise((r) => setTimeout(r, downMs));
      await launch();
    },
    async flush() {
      const r = new Redis(url);
      await r.flushall();
      r.disconnect();
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
