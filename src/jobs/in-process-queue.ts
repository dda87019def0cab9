// The default queue: jobs wait in memory (bounded) and run one at a time per device, in submission order — except
// that a free device prefers the first waiting job whose model the generator already holds (model affinity); a job is
// passed over at most `maxPassOvers` times, so none starves. A job that throws fails alone; the loop takes the next.
import { pickNext, type Waiting } from "./affinity.js";
import {
  OwnerLimitError,
  QueueClosedError,
  QueueFullError,
  toJobError,
  type GenerateRequest,
  type Generator,
  type JobListener,
  type Queue,
  type QueueStats,
} from "./types.js";

export interface InProcessQueueConfig {
  readonly generator: Generator;
  /** Waiting jobs allowed before `submit` throws `QueueFullError`. */
  readonly maxLength: number;
  /** Parallel workers, one per device (default 1). */
  readonly devices?: number;
  /** Waiting + running jobs one owner (API key) may have; undefined or 0 = no limit. */
  readonly maxPerOwner?: number;
  /** AIRs of the models the generator holds loaded (most recently used first); enables model affinity. */
  readonly heldModels?: () => readonly string[];
  /** How often a waiting job may be passed over for a job of a loaded model (default 3). */
  readonly maxPassOvers?: number;
}

interface Job extends Waiting {
  readonly id: string;
  readonly request: GenerateRequest;
  readonly owner: string | undefined;
  readonly listener: JobListener;
  readonly controller: AbortController;
  /** Set once `done`/`failed` went out; later events are dropped. */
  isSettled: boolean;
  /** Images delivered so far; once all numberResults are out, the job no longer counts against its owner's limit. */
  imagesSent: number;
}

export function createInProcessQueue(config: InProcessQueueConfig): Queue {
  const devices = Math.max(1, config.devices ?? 1);
  const waiting: Job[] = [];
  const running = new Map<string, { job: Job; finished: Promise<void> }>();
  let isClosed = false;

  const emit = (job: Job, event: Parameters<JobListener>[0]): void => {
    if (job.isSettled) return;
    if (event.type === "done" || event.type === "failed") job.isSettled = true;
    if (event.type === "image") job.imagesSent++;
    try {
      job.listener(event);
    } catch {
      // A listener's failure (e.g. a closed socket) must not break the worker.
    }
  };

  async function run(job: Job): Promise<void> {
    emit(job, { type: "started" });
    try {
      const ctx = {
        signal: job.controller.signal,
        onProgress: (p: { step: number; total: number; imageIndex: number }) => emit(job, { type: "progress", ...p }),
      };
      for await (const image of config.generator(job.request, ctx)) {
        if (job.controller.signal.aborted) break;
        emit(job, { type: "image", image });
      }
      if (job.controller.signal.aborted) throw job.controller.signal.reason;
      emit(job, { type: "done" });
    } catch (err) {
      const reason = job.controller.signal.aborted ? job.controller.signal.reason : err;
      emit(job, { type: "failed", error: toJobError(reason) });
    }
  }

  function pump(): void {
    while (running.size < devices && waiting.length > 0) {
      const job = pickNext(waiting, config.heldModels?.() ?? [], config.maxPassOvers ?? 3)!;
      const finished = run(job).finally(() => {
        running.delete(job.id);
        pump();
      });
      running.set(job.id, { job, finished });
    }
  }

  function cancelError(message: string): Error & { code: string } {
    return Object.assign(new Error(message), { code: "taskCancelled" });
  }

  return {
    submit(id, request, listener, options) {
      if (isClosed) throw new QueueClosedError();
      if (waiting.length >= config.maxLength) throw new QueueFullError(config.maxLength);
      const owner = options?.owner;
      const limit = config.maxPerOwner ?? 0;
      if (owner !== undefined && limit > 0) {
        const mine = waiting.filter((j) => j.owner === owner).length + [...running.values()].filter((r) => r.job.owner === owner && !r.job.isSettled && r.job.imagesSent < r.job.request.numberResults).length;
        if (mine >= limit) throw new OwnerLimitError(limit);
      }
      waiting.push({ id, request, listener, owner, model: request.model.air, passedOver: 0, controller: new AbortController(), isSettled: false, imagesSent: 0 });
      queueMicrotask(pump);
    },
    cancel(id) {
      const i = waiting.findIndex((j) => j.id === id);
      if (i >= 0) {
        const [job] = waiting.splice(i, 1);
        emit(job!, { type: "failed", error: { code: "taskCancelled", message: "The task was cancelled before it started." } });
        return true;
      }
      const r = running.get(id);
      if (r === undefined) return false;
      r.job.controller.abort(cancelError("The task was cancelled."));
      return true;
    },
    stats(): QueueStats {
      return { waiting: waiting.length, running: running.size, maxLength: config.maxLength };
    },
    async close(graceMs) {
      isClosed = true;
      for (const job of waiting.splice(0)) {
        emit(job, { type: "failed", error: { code: "serviceUnavailable", message: "The server shut down before the task started." } });
      }
      const all = () => Promise.all([...running.values()].map((r) => r.finished));
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), graceMs)));
      const outcome = await Promise.race([all().then(() => "done" as const), timeout]);
      clearTimeout(timer);
      if (outcome === "timeout") {
        const err = Object.assign(new Error("The server shut down while the task was running."), { code: "serviceUnavailable" });
        for (const r of running.values()) {
          r.job.controller.abort(err);
          emit(r.job, { type: "failed", error: toJobError(err) });
        }
        // A generator that ignores its signal gets one more second; its events are dropped either way.
        await Promise.race([all(), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
      }
    },
  };
}
