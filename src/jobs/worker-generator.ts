// The `Generator` `vellum serve` runs: the pipeline generator in a worker thread, so model loading and inference never
// block the server's event loop (health checks, WebSocket pings and uploads stay answered while a model loads).
// Requests, progress, images (bigint seeds, bytes) and errors cross as structured clones; a cancel aborts the
// worker's run between steps. A crashed worker fails its jobs with inferenceError and is restarted on the next request.
import { Worker } from "node:worker_threads";
import type { ModelPoolConfig, PoolStats } from "./model-pool.js";
import type { GeneratedImage, GenerateProgress, GenerateRequest, Generator, JobError } from "./types.js";

export type ToWorker =
  | { readonly type: "generate"; readonly id: number; readonly request: GenerateRequest }
  | { readonly type: "cancel"; readonly id: number; readonly code: string; readonly message: string }
  | { readonly type: "stats"; readonly id: number }
  | { readonly type: "close"; readonly id: number };

export type FromWorker =
  | { readonly type: "progress"; readonly id: number; readonly progress: GenerateProgress }
  | { readonly type: "image"; readonly id: number; readonly image: GeneratedImage }
  | { readonly type: "done"; readonly id: number; readonly held?: readonly string[] }
  | { readonly type: "error"; readonly id: number; readonly error: JobError; readonly held?: readonly string[] }
  | { readonly type: "stats"; readonly id: number; readonly stats: PoolStats }
  | { readonly type: "closed"; readonly id: number };

export interface WorkerGenerator {
  readonly generate: Generator;
  /**
   * AIRs of the models the worker's pool holds, most recently used first, as of the last finished job (a running job's
   * model counts as held from its start).
   */
  heldModels(): readonly string[];
  /** The worker's pool statistics (loads, pipelines, text-encoder runs). */
  stats(): Promise<PoolStats>;
  /** Releases the worker's pipelines and stops the thread. */
  close(): Promise<void>;
}

function spawn(config: ModelPoolConfig): Worker {
  const here = import.meta.url;
  if (here.endsWith(".ts")) {
    // Running from source (tsx / vitest): register tsx's loader inside the worker, then load the TypeScript entry.
    const entry = new URL("./pipeline-worker.ts", here).href;
    const code = `import("tsx/esm/api").then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
    return new Worker(code, { eval: true, workerData: config });
  }
  return new Worker(new URL("./pipeline-worker.js", here), { workerData: config });
}

export function createWorkerGenerator(config: ModelPoolConfig = {}): WorkerGenerator {
  let worker: Worker | undefined;
  let nextId = 1;
  const listeners = new Map<number, (m: FromWorker) => void>();
  let held: readonly string[] = [];

  const failAll = (message: string) => {
    for (const [id, listener] of [...listeners]) listener({ type: "error", id, error: { code: "inferenceError", message } });
  };
  const ensure = (): Worker => {
    if (worker !== undefined) return worker;
    const w = spawn(config);
    w.unref(); // never keeps the process alive by itself
    w.on("message", (m: FromWorker) => {
      if ((m.type === "done" || m.type === "error") && m.held !== undefined) held = m.held;
      listeners.get(m.id)?.(m);
    });
    w.on("error", (e) => {
      worker = undefined;
      held = [];
      failAll(`The inference worker crashed: ${e.message}`);
    });
    w.on("exit", (code) => {
      if (worker !== w) return;
      worker = undefined;
      held = [];
      failAll(`The inference worker exited (code ${code}).`);
    });
    worker = w;
    return w;
  };
  const ask = <T extends FromWorker["type"]>(type: "stats" | "close", expect: T): Promise<Extract<FromWorker, { type: T }>> => {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      listeners.set(id, (m) => {
        listeners.delete(id);
        if (m.type === expect) resolve(m as Extract<FromWorker, { type: T }>);
        else reject(new Error(m.type === "error" ? m.error.message : `unexpected ${m.type}`));
      });
      ensure().postMessage({ type, id } satisfies ToWorker);
    });
  };

  const generate: Generator = async function* (request, ctx) {
    const id = nextId++;
    const inbox: FromWorker[] = [];
    let wake: (() => void) | undefined;
    listeners.set(id, (m) => {
      inbox.push(m);
      wake?.();
    });
    const w = ensure();
    held = [request.model.air, ...held.filter((air) => air !== request.model.air)];
    const onAbort = () => {
      const r = ctx.signal.reason as { code?: unknown; message?: unknown } | undefined;
      const code = typeof r?.code === "string" ? r.code : "taskCancelled";
      w.postMessage({ type: "cancel", id, code, message: typeof r?.message === "string" ? r.message : "cancelled" } satisfies ToWorker);
    };
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    try {
      w.postMessage({ type: "generate", id, request } satisfies ToWorker);
      for (;;) {
        while (inbox.length === 0) await new Promise<void>((r) => (wake = r));
        const m = inbox.shift()!;
        if (m.type === "progress") ctx.onProgress(m.progress);
        else if (m.type === "image") yield m.image;
        else if (m.type === "done") return;
        else if (m.type === "error") throw ctx.signal.aborted ? ctx.signal.reason : Object.assign(new Error(m.error.message), m.error);
      }
    } finally {
      listeners.delete(id);
      ctx.signal.removeEventListener("abort", onAbort);
    }
  };

  return {
    generate,
    heldModels: () => held,
    stats: async () => (await ask("stats", "stats")).stats,
    async close() {
      if (worker === undefined) return;
      const w = worker;
      await ask("close", "closed").catch(() => undefined);
      worker = undefined;
      await w.terminate();
    },
  };
}
