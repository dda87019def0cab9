// The only importer of bullmq: job queues for API nodes and a worker runner, in vellum's terms.
// One BullMQ queue per model (`generate-<hash of the AIR>`, listed in a Redis set) so that a worker can choose which
// model's job it takes next: it fetches jobs itself (BullMQ's manual fetching: its own lock renewal, a stalled checker
// per queue) and prefers the models it holds loaded, unless another model's oldest job was submitted more than
// `maxPassMs` earlier than the preferred one (then it takes that one: no job is passed over for long).
// Jobs are retried only when their worker stops renewing its lock (killed process): `maxStalledCount` 1 gives one
// retry on another worker, then the job fails. Errors thrown by generators never reach BullMQ (the worker reports them).
import { createHash, randomUUID } from "node:crypto";
import { Queue as BullQueue, Worker as BullWorker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import type { WireRequest } from "./bullmq-codec.js";
import { redisKeys } from "./redis-connection.js";

export interface JobPayload {
  readonly request: WireRequest;
}

export type JobState = "waiting" | "active" | "completed" | "failed" | "delayed" | "prioritized" | "waiting-children" | "unknown";

/** The BullMQ queue of a model's jobs. */
export function modelQueueName(air: string): string {
  return `${redisKeys.queueName}-${createHash("sha256").update(air, "utf-8").digest("hex").slice(0, 16)}`;
}

export interface JobQueueHandle {
  /** Adds the job to its model's queue (registering the queue for workers). */
  add(queue: string, jobId: string, payload: JobPayload): Promise<void>;
  /** True when the job was waiting and is now gone; false when a worker holds it (or it is unknown). */
  remove(queue: string, jobId: string): Promise<boolean>;
  state(queue: string, jobId: string): Promise<{ state: JobState; failedReason?: string }>;
  /** Summed over every model queue. */
  counts(): Promise<{ waiting: number; active: number }>;
  close(): Promise<void>;
}

function queueCache(connection: Redis): { get(name: string): BullQueue<JobPayload>; all(): BullQueue<JobPayload>[] } {
  const queues = new Map<string, BullQueue<JobPayload>>();
  return {
    get(name) {
      let q = queues.get(name);
      if (q === undefined) {
        q = new BullQueue<JobPayload>(name, { connection, prefix: redisKeys.prefix });
        q.on("error", () => {}); // reconnects are ioredis's job; errors surface on the commands that fail
        queues.set(name, q);
      }
      return q;
    },
    all: () => [...queues.values()],
  };
}

export function openJobQueue(connection: Redis): JobQueueHandle {
  const queues = queueCache(connection);
  return {
    async add(queue, jobId, payload) {
      await connection.sadd(redisKeys.queues, queue);
      await queues.get(queue).add("generate", payload, { jobId, attempts: 1, removeOnComplete: { age: 600 }, removeOnFail: { age: 3600 } });
    },
    async remove(queue, jobId) {
      return (await queues.get(queue).remove(jobId)) === 1;
    },
    async state(queue, jobId) {
      const q = queues.get(queue);
      const state = (await q.getJobState(jobId)) as JobState;
      if (state !== "failed") return { state };
      const job = await q.getJob(jobId);
      return { state, ...(job?.failedReason !== undefined ? { failedReason: job.failedReason } : {}) };
    },
    async counts() {
      const names = await connection.smembers(redisKeys.queues);
      let waiting = 0;
      let active = 0;
      for (const name of names) {
        const c = await queues.get(name).getJobCounts("waiting", "active", "prioritized");
        waiting += (c.waiting ?? 0) + (c.prioritized ?? 0);
        active += c.active ?? 0;
      }
      return { waiting, active };
    },
    close: async () => {
      await Promise.all(queues.all().map((q) => q.close()));
    },
  };
}

export interface JobWorkerConfig {
  readonly connection: Redis;
  /** Jobs run at once (one per device). */
  readonly concurrency: number;
  /** A job whose worker has not renewed its lock for this long counts as stalled (default 30 s). */
  readonly lockDurationMs?: number;
  /** How often workers look for stalled jobs (default lockDuration / 2). */
  readonly stalledIntervalMs?: number;
  /** Queue names (`modelQueueName`) of the models this worker holds, preferred first. */
  heldQueues?(): readonly string[];
  /** A preferred job is not taken over another queue's oldest job submitted more than this earlier (default 10 s). */
  readonly maxPassMs?: number;
  /** Idle poll interval (default 50 ms). */
  readonly pollMs?: number;
  process(job: { readonly id: string; readonly payload: JobPayload }): Promise<void>;
  onError?(err: Error): void;
}

export interface JobWorkerHandle {
  /** Stops taking jobs; waits for running ones unless `force`. */
  close(force?: boolean): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function startJobWorker(config: JobWorkerConfig): JobWorkerHandle {
  const lockDuration = config.lockDurationMs ?? 30_000;
  const stalledInterval = config.stalledIntervalMs ?? Math.max(1000, lockDuration / 2);
  const maxPassMs = config.maxPassMs ?? 10_000;
  const pollMs = config.pollMs ?? 50;
  const onError = (err: unknown) => config.onError?.(err instanceof Error ? err : new Error(String(err)));
  const queues = queueCache(config.connection);
  const workers = new Map<string, BullWorker<JobPayload>>();
  let isClosing = false;
  const known = new Set<string>();

  const workerFor = (name: string): BullWorker<JobPayload> => {
    let w = workers.get(name);
    if (w === undefined) {
      w = new BullWorker<JobPayload>(name, null, { connection: config.connection, prefix: redisKeys.prefix, autorun: false, lockDuration, stalledInterval, maxStalledCount: 1 });
      w.on("error", onError);
      workers.set(name, w);
      void w.startStalledCheckTimer().catch(onError);
    }
    return w;
  };

  async function knownQueues(): Promise<string[]> {
    const names = await config.connection.smembers(redisKeys.queues);
    for (const n of names) {
      if (known.has(n)) continue;
      known.add(n);
      workerFor(n); // every worker watches every queue for stalled jobs
    }
    return [...known];
  }

  /** Submission time of the oldest waiting job of each non-empty queue. */
  async function heads(names: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    await Promise.all(
      names.map(async (name) => {
        const [job] = await queues.get(name).getJobs(["wait"], 0, 0, true);
        if (job !== undefined) out.set(name, job.timestamp);
      }),
    );
    return out;
  }

  /** The queue to take from: a held model's, unless some job waits more than maxPassMs longer; else the oldest. */
  function choose(waiting: Map<string, number>): string | undefined {
    let oldest: string | undefined;
    for (const [name, ts] of waiting) if (oldest === undefined || ts < waiting.get(oldest)!) oldest = name;
    if (oldest === undefined) return undefined;
    const preferred = (config.heldQueues?.() ?? []).find((n) => waiting.has(n));
    if (preferred !== undefined && waiting.get(preferred)! - waiting.get(oldest)! <= maxPassMs) return preferred;
    return oldest;
  }

  async function take(): Promise<{ job: Job<JobPayload>; token: string } | undefined> {
    const name = choose(await heads(await knownQueues()));
    if (name === undefined) return undefined;
    const token = randomUUID();
    const job = await workerFor(name).getNextJob(token, { block: false });
    return job === undefined ? undefined : { job, token };
  }

  async function runOne(job: Job<JobPayload>, token: string): Promise<void> {
    const renew = setInterval(() => void job.extendLock(token, lockDuration).catch(onError), Math.max(100, lockDuration / 2));
    try {
      await config.process({ id: job.id!, payload: job.data });
    } catch (err) {
      onError(err);
    } finally {
      clearInterval(renew);
    }
    // Our results travel on the job's event stream; BullMQ only needs to know the job is over (a lost lock: ignore).
    await job.moveToCompleted("done", token, false).catch(onError);
  }

  const active = new Set<Promise<void>>();
  async function slot(): Promise<void> {
    while (!isClosing) {
      let next: Awaited<ReturnType<typeof take>>;
      try {
        next = await take();
      } catch (err) {
        onError(err);
        next = undefined;
      }
      if (next === undefined) {
        await sleep(pollMs);
        continue;
      }
      if (isClosing) {
        await next.job.moveToWait(next.token).catch(onError);
        break;
      }
      const run = runOne(next.job, next.token);
      active.add(run);
      await run;
      active.delete(run);
    }
  }
  const slots = Array.from({ length: Math.max(1, config.concurrency) }, () => slot());

  return {
    async close(force) {
      isClosing = true;
      if (!force) await Promise.all(slots);
      await Promise.all([...workers.values()].map((w) => w.close(force)));
      await Promise.all(queues.all().map((q) => q.close()));
    },
  };
}
