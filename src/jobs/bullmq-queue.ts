// The Queue of API nodes in a Redis deployment: submit adds a BullMQ job; the job's events come back on its Redis
// stream (read from the last seen id, so a Redis reconnect loses nothing that Redis still holds). Each task is answered
// exactly once: events of an older attempt (a worker presumed dead) are dropped, images are delivered once per index,
// and a watchdog fails tasks whose job vanished (Redis restarted empty) or failed without an event (worker killed twice).
import { randomUUID } from "node:crypto";
import { encodeRequest, decodeEvent } from "./bullmq-codec.js";
import { openJobQueue } from "./bullmq.js";
import { EVENT_TTL_SECONDS, openRedis, redisKeys } from "./redis-connection.js";
import { QueueClosedError, QueueFullError, type GenerateRequest, type JobError, type JobEvent, type JobListener, type Queue, type QueueStats } from "./types.js";

export interface BullmqQueueConfig {
  readonly redisUrl: string;
  /** Waiting jobs (cluster-wide, as last counted, or this node's own unstarted ones) before `submit` refuses. */
  readonly maxLength: number;
  /** How often job states are checked for lost or dead jobs (default 1000 ms). */
  readonly watchdogMs?: number;
}

interface Pending {
  readonly id: string;
  readonly jobId: string;
  readonly listener: JobListener;
  readonly added: Promise<boolean>;
  isAdded: boolean;
  lastStreamId: string;
  attempt: string | undefined;
  readonly delivered: Set<number>;
  isSettled: boolean;
  suspectChecks: number;
}

export interface BullmqQueue extends Queue {
  /** Resolves once Redis answered (for start-up ordering and tests). */
  ready(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createBullmqQueue(config: BullmqQueueConfig): BullmqQueue {
  const commands = openRedis(config.redisUrl, "api");
  const reader = openRedis(config.redisUrl, "blocking");
  commands.on("error", () => {});
  reader.on("error", () => {});
  const jobs = openJobQueue(commands);
  const pending = new Map<string, Pending>();
  let counts = { waiting: 0, active: 0 };
  let isClosed = false;
  let isStopped = false;

  const settle = (p: Pending, error?: JobError) => {
    if (p.isSettled) return;
    emit(p, error === undefined ? { type: "done" } : { type: "failed", error });
  };
  function emit(p: Pending, event: JobEvent): void {
    if (p.isSettled) return;
    if (event.type === "done" || event.type === "failed") {
      p.isSettled = true;
      if (pending.get(p.id) === p) pending.delete(p.id);
      void commands.expire(redisKeys.events(p.jobId), 60).catch(() => {});
    }
    try {
      p.listener(event);
    } catch {
      // a listener's failure must not stop the reader
    }
  }

  function onWire(p: Pending, attempt: string, event: JobEvent): void {
    if (event.type === "started") {
      const isFirst = p.attempt === undefined;
      p.attempt = attempt;
      if (isFirst) emit(p, event);
      return;
    }
    if (attempt !== p.attempt) return; // a superseded attempt (its worker was presumed dead)
    if (event.type === "image") {
      if (p.delivered.has(event.image.index)) return;
      p.delivered.add(event.image.index);
    }
    if (event.type === "failed" && p.attempt === undefined) return;
    emit(p, event);
  }

  async function readLoop(): Promise<void> {
    while (!isStopped) {
      const live = [...pending.values()].filter((p) => p.isAdded && !p.isSettled);
      if (live.length === 0) {
        await sleep(20);
        continue;
      }
      try {
        const keys = live.map((p) => redisKeys.events(p.jobId));
        const ids = live.map((p) => p.lastStreamId);
        const res = (await reader.xread("COUNT", 1000, "BLOCK", 100, "STREAMS", ...keys, ...ids)) as [string, [string, string[]][]][] | null;
        for (const [key, entries] of res ?? []) {
          const p = live.find((x) => redisKeys.events(x.jobId) === key);
          if (p === undefined) continue;
          for (const [entryId, fields] of entries) {
            p.lastStreamId = entryId;
            const text = fields[fields.indexOf("e") + 1];
            if (text === undefined || p.isSettled) continue;
            const { attempt, event } = decodeEvent(text);
            if (event.type === "failed" && p.attempt === undefined) {
              // cancelled before it started: the worker never sent `started`
              emit(p, event);
              continue;
            }
            onWire(p, attempt, event);
          }
        }
      } catch {
        if (!isStopped) await sleep(200); // Redis away: keep the ids and read again after it reconnects
      }
    }
  }

  async function watchdog(): Promise<void> {
    while (!isStopped) {
      await sleep(config.watchdogMs ?? 1000);
      try {
        counts = await jobs.counts();
      } catch {
        continue;
      }
      for (const p of [...pending.values()]) {
        if (!p.isAdded || p.isSettled) continue;
        let s: Awaited<ReturnType<typeof jobs.state>>;
        try {
          s = await jobs.state(p.jobId);
        } catch {
          break;
        }
        if (s.state !== "unknown" && s.state !== "failed" && s.state !== "completed") {
          p.suspectChecks = 0;
          continue;
        }
        // Give the stream a moment to deliver the terminal event a finished job normally leaves.
        if (++p.suspectChecks < 3) continue;
        if (s.state === "unknown") settle(p, { code: "serviceUnavailable", message: "The task was lost by the job store (Redis restarted). Please retry." });
        else if (s.state === "failed") settle(p, { code: "inferenceError", message: `The task's worker stopped and the retry failed too (${s.failedReason ?? "no reason"}).` });
        else settle(p, { code: "inferenceError", message: "The worker finished the task without reporting its result." });
      }
    }
  }

  void readLoop();
  void watchdog();

  const unstarted = () => [...pending.values()].filter((p) => p.attempt === undefined && !p.isSettled).length;

  function requestCancel(p: Pending, error: JobError): void {
    void p.added.then(async (isAdded) => {
      if (!isAdded || p.isSettled) return;
      await commands.set(redisKeys.cancel(p.jobId), "1", "EX", EVENT_TTL_SECONDS);
      if (await jobs.remove(p.jobId)) settle(p, error);
    }).catch(() => {});
  }

  return {
    async ready() {
      await commands.ping();
    },
    submit(id: string, request: GenerateRequest, listener: JobListener) {
      if (isClosed) throw new QueueClosedError();
      if (Math.max(counts.waiting, unstarted()) >= config.maxLength) throw new QueueFullError(config.maxLength);
      const jobId = randomUUID();
      let resolveAdded!: (ok: boolean) => void;
      const added = new Promise<boolean>((r) => (resolveAdded = r));
      const p: Pending = { id, jobId, listener, added, isAdded: false, lastStreamId: "0", attempt: undefined, delivered: new Set(), isSettled: false, suspectChecks: 0 };
      pending.set(id, p);
      jobs.add(jobId, { request: encodeRequest(request) }).then(
        () => {
          p.isAdded = true;
          resolveAdded(true);
        },
        (err: unknown) => {
          resolveAdded(false);
          settle(p, { code: "serviceUnavailable", message: `The job store is unreachable (${(err as Error).message}).` });
        },
      );
    },
    cancel(id) {
      const p = pending.get(id);
      if (p === undefined || p.isSettled) return false;
      requestCancel(p, { code: "taskCancelled", message: "The task was cancelled before it started." });
      return true;
    },
    stats(): QueueStats {
      return { waiting: Math.max(counts.waiting, unstarted()), running: counts.active, maxLength: config.maxLength };
    },
    async close(graceMs) {
      isClosed = true;
      const shutdown: JobError = { code: "serviceUnavailable", message: "The server shut down before the task started." };
      await Promise.all(
        [...pending.values()].map(async (p) => {
          if (p.attempt !== undefined || !(await p.added)) return;
          if (await jobs.remove(p.jobId).catch(() => false)) settle(p, shutdown);
        }),
      );
      const deadline = Date.now() + graceMs;
      while (pending.size > 0 && Date.now() < deadline) await sleep(Math.min(20, graceMs));
      for (const p of [...pending.values()]) {
        await commands.set(redisKeys.cancel(p.jobId), "1", "EX", EVENT_TTL_SECONDS).catch(() => {});
        settle(p, { code: "serviceUnavailable", message: "The server shut down while the task was running." });
      }
      isStopped = true;
      await sleep(150);
      await jobs.close().catch(() => {});
      commands.disconnect();
      reader.disconnect();
    },
  };
}
