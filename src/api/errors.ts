// Errors leave the server through one class, ApiError, mapped to Runware's error object
// (`code`, `message`, `parameter`, `type`, `min`/`max`, `documentation`, `taskType`, `taskUUID`).

export type ErrorCode =
  | "invalidApiKey"
  | "missingApiKey"
  | "invalidJson"
  | "invalidTask"
  | "missingTaskType"
  | "unsupportedTaskType"
  | "missingTaskUUID"
  | "invalidTaskUUID"
  | "conflictTaskUUID"
  | "unsupportedParameter"
  | "unknownModel"
  | "invalidModel"
  | "invalidClipSkip"
  | "taskNotFound"
  | "serviceUnavailable"
  | "rateLimitExceeded"
  | "requestTooLarge"
  | "internalServerError"
  | `invalid${string}`
  | `missing${string}`;

export interface WireError {
  code: string;
  message: string;
  parameter?: string;
  type?: string;
  min?: number;
  max?: number;
  documentation?: string;
  taskType?: string;
  taskUUID?: string;
  status?: "error";
}

const DOCS = "https://runware.ai/docs/en/image-inference/api-reference";

export interface ApiErrorDetails {
  parameter?: string;
  type?: string;
  min?: number;
  max?: number;
  /** HTTP status over REST (default 400). */
  status?: number;
  documentation?: string;
}

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ApiErrorDetails = {},
  ) {
    super(message);
    this.status = details.status ?? 400;
  }

  /** The Runware error object for a task (taskType/taskUUID attached when known). */
  toWire(task: { taskType?: unknown; taskUUID?: unknown } = {}): WireError {
    const d = this.details;
    const e: WireError = { code: this.code, message: this.message };
    if (d.parameter !== undefined) e.parameter = d.parameter;
    if (d.type !== undefined) e.type = d.type;
    if (d.min !== undefined) e.min = d.min;
    if (d.max !== undefined) e.max = d.max;
    const doc = d.documentation ?? (d.parameter !== undefined ? `${DOCS}#request-${d.parameter.toLowerCase()}` : undefined);
    if (doc !== undefined) e.documentation = doc;
    if (typeof task.taskType === "string") e.taskType = task.taskType;
    if (typeof task.taskUUID === "string") e.taskUUID = task.taskUUID;
    return e;
  }
}

/** Runware's exact answer to a bad key (spec §1.3 / §7.8): no taskUUID, taskType "authentication". */
export function invalidApiKeyError(): WireError {
  return {
    code: "invalidApiKey",
    message: "Invalid API key. Get one at https://my.runware.ai/signup",
    parameter: "apiKey",
    type: "string",
    taskType: "authentication",
  };
}

export function missingApiKey(): ApiError {
  return new ApiError("missingApiKey", "Missing API key. Authenticate first: send an authentication task or an Authorization: Bearer header.", {
    parameter: "apiKey",
    type: "string",
    status: 401,
    documentation: "https://runware.ai/docs/en/getting-started/how-to-connect",
  });
}

/** Maps an unexpected throw to an ApiError without leaking internals. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as { code?: unknown; message?: unknown } | null;
  if (typeof e?.code === "string" && /^[a-z][A-Za-z0-9]*$/.test(e.code) && typeof e.message === "string") {
    return new ApiError(e.code as ErrorCode, e.message, { status: e.code === "serviceUnavailable" ? 503 : 500 });
  }
  return new ApiError("internalServerError", "Internal server error.", { status: 500 });
}
