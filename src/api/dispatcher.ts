// One task object in, its answer out through a sink. Tasks are independent: a failing task never affects another.
// `authentication` and `ping` are transport concerns (ws.ts / rest.ts) and never reach here.
import type { ApiContext, Caller, TaskSink } from "./context.js";
import { ApiError, missingApiKey, toApiError } from "./errors.js";
import { taskUUIDParam, need } from "./runware/params.js";
import { getResponse } from "./tasks/get-response.js";
import { imageUpload } from "./tasks/image-upload.js";
import { runImageInference } from "./tasks/image-inference.js";
import { modelSearch } from "./tasks/model-search.js";

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Handles one task; resolves when its answer has been handed to the sink (sync images: after the last one). */
export async function dispatchTask(raw: unknown, caller: Caller | undefined, sink: TaskSink, ctx: ApiContext): Promise<void> {
  const ids = isObject(raw) ? { taskType: raw.taskType, taskUUID: raw.taskUUID } : {};
  try {
    if (!isObject(raw)) throw new ApiError("invalidTask", "Every task must be a JSON object with taskType and taskUUID.");
    if (typeof raw.taskType !== "string" || raw.taskType === "") {
      throw new ApiError("missingTaskType", "Missing taskType parameter.", { parameter: "taskType", type: "string" });
    }
    if (caller === undefined) throw missingApiKey();
    switch (raw.taskType) {
      case "imageInference":
        return await runImageInference(raw, caller, sink, ctx);
      case "imageUpload":
        return sink.data([await imageUpload(raw, need(raw, "taskUUID", taskUUIDParam), ctx)]);
      case "modelSearch":
        return sink.data([modelSearch(raw, need(raw, "taskUUID", taskUUIDParam), ctx)]);
      case "getResponse": {
        const r = getResponse(need(raw, "taskUUID", taskUUIDParam), caller, ctx);
        if (r.data.length > 0) sink.data(r.data);
        for (const e of r.errors) sink.error(e);
        return;
      }
      default:
        throw new ApiError("unsupportedTaskType", `Unsupported taskType ${JSON.stringify(raw.taskType).slice(0, 100)}. This server supports imageInference, imageUpload, modelSearch, getResponse, authentication and ping.`, { parameter: "taskType", type: "string" });
    }
  } catch (err) {
    const e = toApiError(err);
    if (e.code === "internalServerError") ctx.logger.error("task crashed", { taskType: ids.taskType, error: String((err as Error)?.stack ?? err) });
    sink.error(e.toWire(ids));
  }
}
