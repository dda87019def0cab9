// A vellum worker: takes generation jobs from Redis (BullMQ; its own models' jobs first), runs them one per device with the given
// generator, and writes every event (started, progress per step, images, done/failed) to the job's Redis stream,
// which the API node holding the client reads. A task that throws fails alone; the worker takes the next one.
import { randomUUID } from "node:crypto";
import type { CatalogEntry } from "../catalog/types.js";
import { decodeRequest, encodeEvent } from "./bullmq-codec.js";
import { modelQueueName, startJobWorker, type JobPayload } from "./bullmq.js";
import { EVENT_TTL_SECONDS, openRedis, redisKeys } from "./redis-connection.js";
import { toJobError, type Generator, type JobEvent } from "./types.js";

export interface WorkerConfig {
  readonly redisUrl: string;
  readonly generator: Generator;
  /** The worker's own catalog: AIRs in requests resolve here. */
  resolveModel(air: string): CatalogEntry | undefined;
  /** Parallel jobs, one per device (default 1). */
  readonly devices?: number;
  /** AIRs of the models the generator holds loaded, most recently used first: their jobs are taken first. */
  heldModels?(): readonly string[];
  /** Fairness bound of that preference (default 10 s; see src/jobs/bullmq.ts). */
  readonly maxPassMs?: number;
  /** Lock renewal window; a worker silent this long (killed) gets its job retried elsewhere (default 30 s). */
  readonly lockDurationMs?: number;
  readonly stalledIntervalMs?: number;
  readonly log?: (message: string, fields?: Record<string, unknown>) => void;
}

export interface VellumWorker {
  /** Jobs this worker finished (done or failed), for logs and tests. */
  readonly finishedJobs: () => number;
  /** Stops taking jobs; running ones finish unless `force`. */
  close(force?: boolean): Promise<void>;
}

function cancelled(): Error & { code: string } {
  return Object.assign(new Error("The task was cancelled."), { code: "taskCancelled" });
}

export function startWorker(config: WorkerConfig): VellumWorker {
  const log = config.log ?? (() => {});
  const events = openRedis(config.redisUrl, "blocking");
  const bullConnection = openRedis(config.redisUrl, "blocking");
  events.on("error", () => {});
  bullConnection.on("error", () => {});
  let finished = 0;

  async function run(jobId: string, payload: JobPayload): Promise<void> {
    const attempt = randomUUID();
    const stream = redisKeys.events(jobId);
    let tail: Promise<unknown> = Promise.resolve();
    const emit = (event: JobEvent) => {
      const text = encodeEvent(attempt, event);
      tail = tail.then(() => events.multi().xadd(stream, "*", "e", text).expire(stream, EVENT_TTL_SECONDS).exec()).catch(() => {});
    };
    const controller = new AbortController();
    let isChecking = false;
    const checkCancel = () => {
      if (isChecking || controller.signal.aborted) return;
      isChecking = true;
      events
        .exists(redisKeys.cancel(jobId))
        .then((n) => {
          if (n > 0) controller.abort(cancelled());
        })
        .catch(() => {})
        .finally(() => (isChecking = false));
    };
    const timer = setInterval(checkCancel, 250);
    try {
      if ((await events.exists(redisKeys.cancel(jobId))) > 0) {
        emit({ type: "failed", error: { code: "taskCancelled", message: "The task was cancelled before it started." } });
        return;
      }
      emit({ type: "started" });
      log("job started", { jobId, taskUUID: payload.request.taskUUID });
      try {
        const request = decodeRequest(payload.request, config.resolveModel);
        const ctx = {
          signal: controller.signal,
          onProgress: (p: { step: number; total: number; imageIndex: number }) => {
            checkCancel();
            if (!controller.signal.aborted) emit({ type: "progress", step: p.step, total: p.total, imageIndex: p.imageIndex });
          },
        };
        for await (const image of config.generator(request, ctx)) {
          if (controller.signal.aborted) break;
          emit({ type: "image", image });
        }
        if (controller.signal.aborted) throw controller.signal.reason;
        emit({ type: "done" });
      } catch (err) {
        const error = toJobError(controller.signal.aborted ? controller.signal.reason : err);
        log("job failed", { jobId, code: error.code, error: error.message });
        emit({ type: "failed", error });
      }
    } finally {
      clearInterval(timer);
      await tail;
      finished++;
    }
  }

  const handle = startJobWorker({
    connection: bullConnection,
    concurrency: Math.max(1, config.devices ?? 1),
    heldQueues: () => (config.heldModels?.() ?? []).map(modelQueueName),
    ...(config.maxPassMs !== undefined ? { maxPassMs: config.maxPassMs } : {}),
    ...(config.lockDurationMs !== undefined ? { lockDurationMs: config.lockDurationMs } : {}),
    ...(config.stalledIntervalMs !== undefined ? { stalledIntervalMs: config.stalledIntervalMs } : {}),
    process: (job) => run(job.id, job.payload),
    onError: (err) => log("worker error", { error: err.message }),
  });

  return {
    finishedJobs: () => finished,
    async close(force) {
      await handle.close(force);
      events.disconnect();
      bullConnection.disconnect();
    },
  };
}
