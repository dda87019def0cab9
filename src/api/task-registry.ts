// What getResponse reads: per taskUUID its owner, the result items so far, errors, and whether it finished.
// Entries are dropped `retentionMs` after they finish.
import type { TaskRecordMirror } from "../jobs/redis-task-mirror.js";
import type { WireError } from "./errors.js";

export type ResultItem = Record<string, unknown> & { taskType: string; taskUUID: string };

export interface TaskRecord {
  readonly taskUUID: string;
  readonly taskType: string;
  readonly owner: string;
  readonly items: ResultItem[];
  readonly errors: WireError[];
  isFinished: boolean;
}

export class TaskRegistry {
  private readonly records = new Map<string, TaskRecord>();
  private readonly timers = new Set<NodeJS.Timeout>();

  /** `mirror` (Redis deployments): records are shared so getResponse answers on every API node. */
  constructor(
    private readonly retentionMs: number,
    private readonly mirror?: TaskRecordMirror<TaskRecord>,
  ) {}

  /** Undefined when a task with this UUID is still running (the caller answers conflictTaskUUID). */
  start(taskUUID: string, taskType: string, owner: string): TaskRecord | undefined {
    const old = this.records.get(taskUUID);
    if (old !== undefined && !old.isFinished) return undefined;
    const record: TaskRecord = { taskUUID, taskType, owner, items: [], errors: [], isFinished: false };
    this.records.set(taskUUID, record);
    this.mirror?.publish(record, this.retentionMs);
    return record;
  }

  get(taskUUID: string, owner: string): TaskRecord | undefined {
    const r = this.records.get(taskUUID) ?? this.mirror?.lookup(taskUUID);
    return r?.owner === owner ? r : undefined;
  }

  finish(record: TaskRecord): void {
    record.isFinished = true;
    this.mirror?.publish(record, this.retentionMs);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.records.get(record.taskUUID) === record) this.records.delete(record.taskUUID);
    }, this.retentionMs);
    timer.unref();
    this.timers.add(timer);
  }

  /** Forgets a task that never started (e.g. queue full). */
  drop(record: TaskRecord): void {
    this.mirror?.forget(record.taskUUID);
    if (this.records.get(record.taskUUID) === record) this.records.delete(record.taskUUID);
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
