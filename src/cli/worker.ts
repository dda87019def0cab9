// `vellum worker`: a generation worker without HTTP — takes jobs from Redis (BullMQ), resolves models in its own
// catalog, keeps loaded pipelines in the model pool, runs one job per device and streams events back through Redis.
// Also the Redis wiring `vellum serve --redis URL` uses (queue, shared task records, and an embedded worker).
import { parseArgs } from "node:util";
import { FolderCatalog } from "../catalog/catalog.js";
import type { ModelCatalog } from "../catalog/types.js";
import { createBullmqQueue, type BullmqQueue } from "../jobs/bullmq-queue.js";
import { defaultMemoryBudgetBytes } from "../jobs/model-pool.js";
import { createWorkerGenerator, type WorkerGenerator } from "../jobs/worker-generator.js";
import { createRedisTaskMirror, type MirroredRecord, type TaskRecordMirror } from "../jobs/redis-task-mirror.js";
import { startWorker, type VellumWorker } from "../jobs/worker.js";
import { DEVICES, probeDevice, type Device } from "../runtime/index.js";

const HELP = `usage: vellum worker --redis URL [--models DIR] [--data DIR] [--devices N] [--max-pipelines N] [--memory-budget GB] [--lock-ms N]

  --redis URL          Redis the API nodes use, e.g. redis://127.0.0.1:6379
  --models DIR         models folder (default ./models); the same models (same AIRs) as the API nodes
  --data DIR           data folder (demo model; default ./data)
  --devices N          jobs run at once, one per device (default 1)
  --max-pipelines N    loaded pipelines kept in memory, least recently used evicted (default 2; VELLUM_MAX_PIPELINES)
  --memory-budget GB   upper bound on the weights of loaded pipelines (float32 size), in GB (default 75 % of RAM; VELLUM_MEMORY_BUDGET_GB)
  --lock-ms N          a worker silent this long is presumed dead and its job retried once elsewhere (default 30000)
  --device cpu|cuda|webgpu  ONNX Runtime execution provider (default cpu; VELLUM_DEVICE); checked at start`;

export interface RedisWorkerOptions {
  readonly redisUrl: string;
  readonly catalog: ModelCatalog;
  readonly devices?: number;
  readonly maxPipelines?: number;
  readonly memoryBudgetBytes?: number;
  readonly device?: Device;
  /** An existing generator to run jobs with (serve's own); otherwise one is started and closed with the worker. */
  readonly pipelines?: WorkerGenerator;
  readonly lockDurationMs?: number;
  readonly log?: (message: string, fields?: Record<string, unknown>) => void;
}

/**
 * A worker over the real pipeline, run in a worker thread (model loads never delay the BullMQ lock renewal on this
 * thread); `close` stops taking jobs, lets the running ones finish and frees the pool.
 */
export function startPipelineWorker(opts: RedisWorkerOptions): { worker: VellumWorker; close(): Promise<void> } {
  const isOwn = opts.pipelines === undefined;
  const pipelines =
    opts.pipelines ??
    createWorkerGenerator({
      maxPipelines: opts.maxPipelines ?? 2,
      ...(opts.memoryBudgetBytes !== undefined && { memoryBudgetBytes: opts.memoryBudgetBytes }),
      ...(opts.device !== undefined && { device: opts.device }),
    });
  const worker = startWorker({
    redisUrl: opts.redisUrl,
    generator: pipelines.generate,
    heldModels: () => pipelines.heldModels(),
    resolveModel: (air) => opts.catalog.resolve(air),
    ...(opts.devices !== undefined ? { devices: opts.devices } : {}),
    ...(opts.lockDurationMs !== undefined ? { lockDurationMs: opts.lockDurationMs } : {}),
    ...(opts.log !== undefined ? { log: opts.log } : {}),
  });
  return {
    worker,
    async close() {
      await worker.close();
      if (isOwn) await pipelines.close();
    },
  };
}

/** `vellum serve --redis URL [--no-worker]`: removes these flags from `args` (the rest is serve's own). */
export function splitRedisArgs(args: string[]): { redisUrl?: string; isWorkerEmbedded: boolean; rest: string[] } {
  const rest: string[] = [];
  let redisUrl: string | undefined;
  let isWorkerEmbedded = true;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--redis") redisUrl = args[++i];
    else if (a.startsWith("--redis=")) redisUrl = a.slice("--redis=".length);
    else if (a === "--no-worker") isWorkerEmbedded = false;
    else rest.push(a);
  }
  return { ...(redisUrl !== undefined ? { redisUrl } : {}), isWorkerEmbedded, rest };
}

export interface RedisServeParts<R extends MirroredRecord> {
  readonly queue: BullmqQueue;
  readonly taskMirror: TaskRecordMirror<R>;
  /** Call after the server closed (it closes the queue itself). */
  close(): Promise<void>;
}

/** The queue, shared task records and (unless disabled) an embedded pipeline worker of an API node. */
export async function startRedisServeParts<R extends MirroredRecord>(
  opts: RedisWorkerOptions & { maxQueueLength: number; maxTasksPerKey?: number; isWorkerEmbedded: boolean },
): Promise<RedisServeParts<R>> {
  const queue = createBullmqQueue({ redisUrl: opts.redisUrl, maxLength: opts.maxQueueLength, ...(opts.maxTasksPerKey !== undefined && { maxPerOwner: opts.maxTasksPerKey }) });
  const taskMirror = createRedisTaskMirror<R>(opts.redisUrl);
  await Promise.all([queue.ready(), taskMirror.ready()]);
  const worker = opts.isWorkerEmbedded ? startPipelineWorker(opts) : undefined;
  return {
    queue,
    taskMirror,
    async close() {
      await worker?.close();
      taskMirror.close();
    },
  };
}

/** "12.5" (GB, 10^9 bytes) → bytes; throws on anything but a positive number. */
export function gigabytes(text: string): number {
  const gb = Number(text);
  if (!Number.isFinite(gb) || gb <= 0) throw new Error(`--memory-budget must be a positive number of GB, got ${JSON.stringify(text)}`);
  return Math.round(gb * 1e9);
}

export async function worker(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        redis: { type: "string" },
        models: { type: "string" },
        data: { type: "string" },
        devices: { type: "string" },
        "max-pipelines": { type: "string" },
        "memory-budget": { type: "string" },
        "lock-ms": { type: "string" },
        device: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }).values;
  } catch (e) {
    console.error(`vellum worker: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help === true) {
    console.log(HELP);
    return 0;
  }
  const redisUrl = values.redis ?? process.env.VELLUM_REDIS;
  if (redisUrl === undefined) {
    console.error(`vellum worker: --redis URL is required\n\n${HELP}`);
    return 2;
  }
  const int = (v: string | undefined, name: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
    return n;
  };
  try {
    const catalog = await FolderCatalog.open({ modelsDir: values.models ?? process.env.VELLUM_MODELS ?? "./models", dataDir: values.data ?? process.env.VELLUM_DATA ?? "./data" });
    const devices = int(values.devices, "--devices");
    const maxPipelines = int(values["max-pipelines"] ?? process.env.VELLUM_MAX_PIPELINES, "--max-pipelines");
    const budgetGB = values["memory-budget"] ?? process.env.VELLUM_MEMORY_BUDGET_GB;
    const memoryBudgetBytes = budgetGB === undefined ? defaultMemoryBudgetBytes() : gigabytes(budgetGB);
    const lockDurationMs = int(values["lock-ms"], "--lock-ms");
    const device = values.device ?? process.env.VELLUM_DEVICE ?? "cpu";
    if (!(DEVICES as readonly string[]).includes(device)) throw new Error(`--device must be one of ${DEVICES.join(", ")}, got ${device}`);
    await probeDevice(device as Device);
    const log = (message: string, fields?: Record<string, unknown>) => console.log(JSON.stringify({ time: new Date().toISOString(), message, ...fields }));
    const w = startPipelineWorker({
      redisUrl,
      catalog,
      log,
      ...(devices !== undefined ? { devices } : {}),
      ...(maxPipelines !== undefined ? { maxPipelines } : {}),
      ...(memoryBudgetBytes !== undefined ? { memoryBudgetBytes } : {}),
      ...(lockDurationMs !== undefined ? { lockDurationMs } : {}),
      device: device as Device,
    });
    log("vellum worker ready", { redis: redisUrl.replace(/\/\/[^@]*@/, "//***@"), models: catalog.list().length });
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        void w.close().then(resolve);
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
    return 0;
  } catch (e) {
    console.error(`vellum worker: ${(e as Error).message}`);
    return 1;
  }
}
