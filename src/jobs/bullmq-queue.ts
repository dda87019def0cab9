// The Queue of API nodes in a Redis deployment: submit adds a BullMQ job; the job's events come back on its Redis
// stream (read from the last seen id, so a Redis reconnect loses nothing that Redis still holds). Each task is answered
// exactly once: events of an older attempt (a worker presumed dead) are dropped, images are delivered once per index,
// and a watchdog fails tasks whose job vanished (Redis restarted empty) or failed without an event (worker killed twice).
// The per-owner limit is checked twice: at once against this node's own live tasks (submit throws), then cluster-wide
// in Redis before the job is added (an owner's live jobs as a sorted set of leases; over the limit → `failed` event).
import { randomUUID } from "node:crypto";
import { encodeRequest, decodeEvent } from "./bullmq-codec.js";
import { modelQueueName, openJobQueue } from "./bullmq.js";
import { EVENT_TTL_SECONDS, openRedis, redisKeys } from "./redis-connection.js";
import { OwnerLimitError, QueueClosedError, QueueFullError, type GenerateRequest, type JobError, type JobEvent, type JobListener, type Queue, type QueueStats, type SubmitOptions } from "./types.js";

export interface BullmqQueueConfig {
  readonly redisUrl: string;
  /** Waiting jobs (cluster-wide, as last counted, or this node's own unstarted ones) before `submit` refuses. */
  readonly maxLength: number;
  /** How often job states are checked for lost or dead jobs (default 1000 ms). */
  readonly watchdogMs?: number;
  /** Waiting + running jobs one owner (API key) may have across the cluster; undefined or 0 = no limit. */
  readonly maxPerOwner?: number;
}

interface Pending {
  readonly id: string;
  readonly jobId: string;
  /** The model's BullMQ queue. */
  readonly queue: string;
  readonly owner: string | undefined;
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
  const ownerLimit = config.maxPerOwner ?? 0;
  /** An owner's lease on a job slot outlives a dead API node by this long at most (renewed by the watchdog). */
  const leaseMs = Math.max(15_000, 10 * (config.watchdogMs ?? 1000));

  /** Takes a slot of the owner's cluster-wide budget for the job; false when the owner is at the limit. */
  async function claimOwnerSlot(p: Pending): Promise<boolean> {
    if (p.owner === undefined || ownerLimit <= 0) return true;
    const key = redisKeys.owner(p.owner);
    const now = Date.now();
    const res = await commands.multi().zremrangebyscore(key, "-inf", now).zadd(key, now + leaseMs, p.jobId).zcard(key).pexpire(key, leaseMs).exec();
    const count = Number(res?.[2]?.[1] ?? 0);
    if (count <= ownerLimit) return true;
    await commands.zrem(key, p.jobId);
    return false;
  }
  const releaseOwnerSlot = (p: Pending) => {
    if (p.owner !== undefined && ownerLimit > 0) void commands.zrem(redisKeys.owner(p.owner), p.jobId).catch(() => {});
  };

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
      releaseOwnerSlot(p);
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
        await renewOwnerLeases();
      } catch {
        continue;
      }
      for (const p of [...pending.values()]) {
        if (!p.isAdded || p.isSettled) continue;
        let s: Awaited<ReturnType<typeof jobs.state>>;
        try {
          s = await jobs.state(p.queue, p.jobId);
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

  async function renewOwnerLeases(): Promise<void> {
    if (ownerLimit <= 0) return;
    const live = [...pending.values()].filter((p) => p.owner !== undefined && !p.isSettled);
    if (live.length === 0) return;
    const until = Date.now() + leaseMs;
    const m = commands.multi();
    for (const p of live) m.zadd(redisKeys.owner(p.owner!), "XX", until, p.jobId).pexpire(redisKeys.owner(p.owner!), leaseMs);
    await m.exec();
  }

  void readLoop();
  void watchdog();

  const unstarted = () => [...pending.values()].filter((p) => p.attempt === undefined && !p.isSettled).length;

  function requestCancel(p: Pending, error: JobError): void {
    void p.added.then(async (isAdded) => {
      if (!isAdded || p.isSettled) return;
      await commands.set(redisKeys.cancel(p.jobId), "1", "EX", EVENT_TTL_SECONDS);
      if (await jobs.remove(p.queue, p.jobId)) settle(p, error);
    }).catch(() => {});
  }

  return {
    async ready() {
      await commands.ping();
    },
    submit(id: string, request: GenerateRequest, listener: JobListener, options?: SubmitOptions) {
      if (isClosed) throw new QueueClosedError();
      if (Math.max(counts.waiting, unstarted()) >= config.maxLength) throw new QueueFullError(config.maxLength);
      const owner = options?.owner;
      if (owner !== undefined && ownerLimit > 0) {
        const mine = [...pending.values()].filter((x) => x.owner === owner && !x.isSettled).length;
        if (mine >= ownerLimit) throw new OwnerLimitError(ownerLimit);
      }
      const jobId = randomUUID();
      let resolveAdded!: (ok: boolean) => void;
      const added = new Promise<boolean>((r) => (resolveAdded = r));
      const p: Pending = { id, jobId, queue: modelQueueName(request.model.air), owner, listener, added, isAdded: false, lastStreamId: "0", attempt: undefined, delivered: new Set(), isSettled: false, suspectChecks: 0 };
      pending.set(id, p);
      claimOwnerSlot(p)
        .then(async (isClaimed) => {
          if (!isClaimed) {
            resolveAdded(false);
            const e = new OwnerLimitError(ownerLimit);
            settle(p, { code: e.code, message: e.message });
            return;
          }
          await jobs.add(p.queue, jobId, { request: encodeRequest(request) });
          p.isAdded = true;
          resolveAdded(true);
        })
        .catch((err: unknown) => {
          resolveAdded(false);
          settle(p, { code: "serviceUnavailable", message: `The job store is unreachable (${(err as Error).message}).` });
        });
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
          if (await jobs.remove(p.queue, p.jobId).catch(() => false)) settle(p, shutdown);
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
