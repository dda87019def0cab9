// Redis connections for the job system: reconnect forever with a capped back-off, so API nodes and workers ride out a
// Redis restart. Blocking readers and workers wait for Redis (no per-command retry limit); API commands give up.
import { Redis } from "ioredis";

export type RedisRole = "api" | "blocking";

export function openRedis(url: string, role: RedisRole): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: role === "blocking" ? null : 20,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(50 * times, 1000),
    lazyConnect: false,
  });
}

/** Key names shared by the API side and the workers (one Redis can serve one vellum cluster per prefix). */
export const redisKeys = {
  prefix: "vellum",
  queueName: "generate",
  /** Set of the per-model BullMQ queue names in use (workers poll them). */
  queues: "vellum:queues",
  events: (jobId: string) => `vellum:ev:${jobId}`,
  cancel: (jobId: string) => `vellum:cancel:${jobId}`,
  task: (taskUUID: string) => `vellum:task:${taskUUID}`,
  /** Sorted set of an owner's live jobs (score = lease expiry, ms), for the cluster-wide per-key limit. */
  owner: (owner: string) => `vellum:owner:${owner}`,
  taskChannel: "vellum:tasks",
};

/** Seconds a job's event stream and cancel flag live in Redis after their last write. */
export const EVENT_TTL_SECONDS = 3600;
