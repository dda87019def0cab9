// Everything a task handler needs, built once by createVellumServer.
import type { ModelCatalog } from "../catalog/types.js";
import type { ServerConfig } from "../config/server-config.js";
import type { Queue } from "../jobs/types.js";
import type { WireError } from "./errors.js";
import type { ImageSourceConfig } from "./images/image-source.js";
import type { ImageStore } from "./images/image-store.js";
import type { Logger } from "./logger.js";
import type { ResultItem, TaskRegistry } from "./task-registry.js";

export interface ApiContext {
  readonly config: ServerConfig;
  readonly catalog: ModelCatalog;
  readonly queue: Queue;
  readonly images: ImageStore;
  readonly tasks: TaskRegistry;
  readonly logger: Logger;
  readonly imageSource: ImageSourceConfig;
  /** Public base URL for /image links (no trailing slash). */
  baseUrl(): string;
}

/** Where a task's output goes: a WebSocket session (one frame per call) or a REST response being collected. */
export interface TaskSink {
  data(items: ResultItem[]): void;
  error(error: WireError): void;
  /**
   * WebSocket sinks: registers a running task's cancel, called when its connection is gone for good (session not
   * resumed within resumeGraceMs). Returns the function to call when the task finished.
   */
  track?(cancel: () => void): () => void;
}

/** Who is asking: the owner id of the authenticated key. */
export interface Caller {
  readonly owner: string;
}
