// REST: POST /v1 with a JSON array of tasks. Auth by `Authorization: Bearer <key>` or an authentication task first.
// All tasks run independently; the response collects their items: {"data":[…]}, {"errors":[…]} or both.
import type { Authenticator } from "./auth.js";
import type { ApiContext, TaskSink } from "./context.js";
import { ApiError, invalidApiKeyError, missingApiKey, type WireError } from "./errors.js";
import { dispatchTask } from "./dispatcher.js";
import type { ResultItem } from "./task-registry.js";

export interface RestResult {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

function errorBody(status: number, errors: WireError[]): RestResult {
  // `error` (first error) too: Runware's ai-sdk provider and newer SDKs read the singular field.
  return { status, body: { errors, error: errors[0] } };
}

function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return m?.[1];
}

export async function handleRest(frame: unknown, authorization: string | undefined, auth: Authenticator, ctx: ApiContext): Promise<RestResult> {
  let tasks: unknown[] = Array.isArray(frame) ? frame : [frame];
  const first = tasks[0] as Record<string, unknown> | undefined;
  let key: unknown = bearer(authorization);
  if (first !== null && typeof first === "object" && first.taskType === "authentication") {
    key = first.apiKey;
    tasks = tasks.slice(1);
  }
  const owner = auth.check(key);
  if (owner === undefined) {
    if (key !== undefined) return errorBody(401, [invalidApiKeyError()]);
    const e = missingApiKey();
    return errorBody(401, [e.toWire(typeof first === "object" && first !== null ? { taskType: first.taskType, taskUUID: first.taskUUID } : {})]);
  }
  if (tasks.length === 0) return errorBody(400, [new ApiError("invalidTask", "The request holds no task.").toWire()]);
  const data: ResultItem[] = [];
  const errors: WireError[] = [];
  const statuses: number[] = [];
  const sink: TaskSink = { data: (items) => data.push(...items), error: (e) => errors.push(e) };
  await Promise.all(
    tasks.map((t) => {
      const r = t as Record<string, unknown> | null;
      if (r !== null && typeof r === "object" && r.taskType === "ping") {
        data.push({ taskType: "ping", taskUUID: typeof r.taskUUID === "string" ? r.taskUUID : "", pong: true });
        return Promise.resolve();
      }
      return dispatchTask(t, { owner }, { ...sink, error: (e) => (statuses.push(statusOf(e)), sink.error(e)) }, ctx);
    }),
  );
  if (errors.length === 0) return { status: 200, body: { data } };
  if (data.length === 0) return errorBody(Math.max(...statuses), errors);
  return { status: 200, body: { data, errors } };
}

function statusOf(e: WireError): number {
  if (e.code === "serviceUnavailable" || e.code === "modelNotReady") return 503;
  if (e.code === "taskNotFound") return 404;
  if (e.code === "conflictTaskUUID") return 409;
  if (e.code === "rateLimitExceeded") return 429;
  if (e.code === "internalServerError" || e.code === "inferenceError") return 500;
  return 400;
}
