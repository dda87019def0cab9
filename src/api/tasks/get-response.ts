// getResponse: everything a task produced so far (success items, a processing placeholder while it runs, errors).
import { ApiError, type WireError } from "../errors.js";
import type { ApiContext, Caller } from "../context.js";
import type { ResultItem } from "../task-registry.js";

export function getResponse(taskUUID: string, caller: Caller, ctx: ApiContext): { data: ResultItem[]; errors: WireError[] } {
  const record = ctx.tasks.get(taskUUID, caller.owner);
  if (record === undefined) {
    throw new ApiError("taskNotFound", `No task with taskUUID ${taskUUID} is known to this server (finished tasks are kept for a limited time).`, { parameter: "taskUUID", type: "string", status: 404 });
  }
  const data: ResultItem[] = record.items.map((i) => ({ ...i, status: "success" }));
  if (!record.isFinished) data.push({ taskType: record.taskType, taskUUID, status: "processing" });
  const errors: WireError[] = record.errors.map((e) => ({ ...e, status: "error" }));
  return { data, errors };
}
