// The only importer of bullmq: a job queue handle for API nodes and a worker runner, in vellum's terms.
// Jobs are retried only when their worker stops renewing its lock (killed process): `maxStalledCount` 1 gives one
// retry on another worker, then the job fails. Errors thrown by generators never reach BullMQ (the worker reports them).
import { Queue as BullQueue, Worker as BullWorker } from "bullmq";
import type { Redis } from "ioredis";
import type { WireRequest } from "./bullmq-codec.js";
import { redisKeys } from "./redis-connection.js";

export interface JobPayload {
  readonly request: WireRequest;
}

export type JobState = "waiting" | "active" | "completed" | "failed" | "delayed" | "prioritized" | "waiting-children" | "unknown";

export interface JobQueueHandle {
  add(jobId: string, payload: JobPayload): Promise<void>;
  /** True when the job was waiting and is now gone; false when a worker holds it (or it is unknown). */
  remove(jobId: string): Promise<boolean>;
  state(jobId: string): Promise<{ state: JobState; failedReason?: string }>;
  counts(): Promise<{ waiting: number; active: number }>;
  close(): Promise<void>;
}

export function openJobQueue(connection: Redis): JobQueueHandle {
  const q = new BullQueue<JobPayload>(redisKeys.queueName, { connection, prefix: redisKeys.prefix });
  q.on("error", () => {}); // reconnects are ioredis's job; errors surface on the commands that fail
  return {
    async add(jobId, payload) {
      await q.add("generate", payload, { jobId, attempts: 1, removeOnComplete: { age: 600 }, removeOnFail: { age: 3600 } });
    },
    async remove(jobId) {
      return (await q.remove(jobId)) === 1;
    },
    async state(jobId) {
      const state = (await q.getJobState(jobId)) as JobState;
      if (state !== "failed") return { state };
      const job = await q.getJob(jobId);
      return { state, ...(job?.failedReason !== undefined ? { failedReason: job.failedReason } : {}) };
    },
    async counts() {
      const c = await q.getJobCounts("waiting", "active", "prioritized");
      return { waiting: (c.waiting ?? 0) + (c.prioritized ?? 0), active: c.active ?? 0 };
    },
    close: () => q.close(),
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
  process(job: { readonly id: string; readonly payload: JobPayload }): Promise<void>;
  onError?(err: Error): void;
}

export interface JobWorkerHandle {
  /** Stops taking jobs; waits for running ones unless `force`. */
  close(force?: boolean): Promise<void>;
}

export function startJobWorker(config: JobWorkerConfig): JobWorkerHandle {
  const lockDuration = config.lockDurationMs ?? 30_000;
  const w = new BullWorker<JobPayload>(redisKeys.queueName, async (job) => config.process({ id: job.id!, payload: job.data }), {
    connection: config.connection,
    prefix: redisKeys.prefix,
    concurrency: config.concurrency,
    lockDuration,
    stalledInterval: config.stalledIntervalMs ?? Math.max(1000, lockDuration / 2),
    maxStalledCount: 1,
  });
  w.on("error", (err) => config.onError?.(err));
  return { close: (force) => w.close(force) };
}
