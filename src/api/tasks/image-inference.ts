// Runs one imageInference task: validate → load images → queue → store each image → deliver (sync frames,
// getResponse record, webhook POST, uploadEndpoint PUT). Resolves when the caller has its answer.
import type { GeneratedImage, GenerateRequest, JobEvent } from "../../jobs/types.js";
import { OwnerLimitError, QueueClosedError, QueueFullError } from "../../jobs/types.js";
import type { ApiContext, Caller, TaskSink } from "../context.js";
import { ApiError, toApiError, type WireError } from "../errors.js";
import { loadImage } from "../images/image-source.js";
import { extForMime } from "../images/image-store.js";
import { stringifyJson } from "../json.js";
import { safeRequest } from "../net/safe-http.js";
import { validateImageInference, type ImageInferenceTask } from "../runware/image-inference.js";
import type { ResultItem } from "../task-registry.js";

const TASK_TYPE = "imageInference";

async function toResultItem(task: ImageInferenceTask, image: GeneratedImage, ctx: ApiContext): Promise<ResultItem> {
  const ext = extForMime(image.mime);
  const { uuid, fileName } = await ctx.images.put(image.bytes, ext, task.delivery.outputType === "URL" ? task.delivery.ttlSeconds : undefined);
  const item: ResultItem = { taskType: TASK_TYPE, taskUUID: task.taskUUID, imageUUID: uuid };
  const b64 = () => Buffer.from(image.bytes).toString("base64");
  if (task.delivery.outputType === "URL") item.imageURL = `${ctx.baseUrl()}/image/${fileName}`;
  else if (task.delivery.outputType === "base64Data") item.imageBase64Data = b64();
  else item.imageDataURI = `data:${image.mime};base64,${b64()}`;
  item.seed = image.seed;
  if (task.delivery.reportsNSFW) item.NSFWContent = false;
  if (task.delivery.includeCost) item.cost = 0;
  if (image.clipSkipApplied !== undefined) item.clipSkipApplied = image.clipSkipApplied;
  const warnings = [...task.warnings, ...(image.warnings ?? [])];
  if (warnings.length > 0) item.warnings = warnings;
  return item;
}

async function sideDeliveries(task: ImageInferenceTask, item: ResultItem, image: GeneratedImage, ctx: ApiContext): Promise<void> {
  const http = { timeoutMs: ctx.config.fetchTimeoutMs, maxBytes: 1024 * 1024, isPrivateAllowed: ctx.config.isPrivateFetchAllowed };
  const { webhookURL, uploadEndpoint } = task.delivery;
  const calls: Promise<unknown>[] = [];
  if (uploadEndpoint !== undefined) {
    calls.push(safeRequest(http, uploadEndpoint, { method: "PUT", body: image.bytes, headers: { "content-type": image.mime } }));
  }
  if (webhookURL !== undefined) {
    calls.push(safeRequest(http, webhookURL, { method: "POST", body: stringifyJson(item), headers: { "content-type": "application/json" } }));
  }
  const results = await Promise.allSettled(calls);
  for (const r of results) {
    if (r.status === "rejected") ctx.logger.warn("delivery failed", { taskUUID: task.taskUUID, error: String((r.reason as Error)?.message ?? r.reason) });
  }
}

export async function runImageInference(raw: Record<string, unknown>, caller: Caller, sink: TaskSink, ctx: ApiContext): Promise<void> {
  const task = validateImageInference(raw, ctx.catalog);
  const seedImage = task.seedImageRef === undefined ? undefined : (await loadImage(task.seedImageRef, "seedImage", ctx.images, ctx.imageSource)).bytes;
  const maskImage = task.maskImageRef === undefined ? undefined : (await loadImage(task.maskImageRef, "maskImage", ctx.images, ctx.imageSource)).bytes;
  const request: GenerateRequest = { ...task.request, ...(seedImage !== undefined ? { seedImage } : {}), ...(maskImage !== undefined ? { maskImage } : {}) };
  const record = ctx.tasks.start(task.taskUUID, TASK_TYPE, caller.owner);
  if (record === undefined) {
    throw new ApiError("conflictTaskUUID", `A task with taskUUID ${task.taskUUID} is already running.`, { parameter: "taskUUID", type: "string", status: 409 });
  }
  const isSync = !task.delivery.isAsync;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  let tail = Promise.resolve();
  let delivered = 0;
  let untrack: (() => void) | undefined;

  const fail = (error: WireError) => {
    record.errors.push(error);
    ctx.tasks.finish(record);
    if (isSync) sink.error(error);
    untrack?.();
    finish();
  };
  const onEvent = (event: JobEvent) => {
    tail = tail.then(() => handle(event)).catch((err: unknown) => {
      ctx.logger.error("result delivery failed", { taskUUID: task.taskUUID, error: String(err) });
      if (!record.isFinished) fail(toApiError(err).toWire({ taskType: TASK_TYPE, taskUUID: task.taskUUID }));
    });
  };
  const handle = async (event: JobEvent) => {
    if (record.isFinished) return;
    switch (event.type) {
      case "started":
        ctx.logger.info("task started", { taskUUID: task.taskUUID, model: request.model.air, numberResults: request.numberResults });
        return;
      case "progress":
        if (isSync && task.delivery.includeProgress) {
          sink.data([{ taskType: "imageInferenceProgress", taskUUID: task.taskUUID, step: event.step, total: event.total, imageIndex: event.imageIndex }]);
        }
        return;
      case "image": {
        const item = await toResultItem(task, event.image, ctx);
        delivered++;
        record.items.push(item);
        if (isSync) sink.data([item]);
        await sideDeliveries(task, item, event.image, ctx);
        return;
      }
      case "done":
        if (delivered < request.numberResults) {
          fail({ code: "inferenceError", message: `The generator produced ${delivered} of ${request.numberResults} images.`, taskType: TASK_TYPE, taskUUID: task.taskUUID });
          return;
        }
        ctx.logger.info("task done", { taskUUID: task.taskUUID, images: delivered });
        ctx.tasks.finish(record);
        untrack?.();
        finish();
        return;
      case "failed":
        ctx.logger.warn("task failed", { taskUUID: task.taskUUID, code: event.error.code, error: event.error.message });
        fail({ ...event.error, taskType: TASK_TYPE, taskUUID: task.taskUUID });
        return;
    }
  };

  try {
    ctx.queue.submit(task.taskUUID, request, onEvent, { owner: caller.owner });
    if (isSync) untrack = sink.track?.(() => ctx.queue.cancel(task.taskUUID));
  } catch (err) {
    ctx.tasks.drop(record);
    if (err instanceof OwnerLimitError) throw new ApiError("rateLimitExceeded", err.message, { status: 429 });
    if (err instanceof QueueFullError || err instanceof QueueClosedError) throw new ApiError("serviceUnavailable", err.message, { status: 503 });
    throw err;
  }
  if (!isSync) {
    sink.data([{ taskType: TASK_TYPE, taskUUID: task.taskUUID, status: "processing" }]);
    return;
  }
  await finished;
}

