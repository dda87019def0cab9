// Builds and starts vellum's HTTP + WebSocket server over a catalog and a generator (or an existing queue).
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { WebSocketServer } from "ws";
import type { ModelCatalog } from "../catalog/types.js";
import { publicBaseUrl, type ServerConfig } from "../config/server-config.js";
import { createInProcessQueue } from "../jobs/in-process-queue.js";
import type { TaskRecordMirror } from "../jobs/redis-task-mirror.js";
import type { Generator, Queue } from "../jobs/types.js";
import { createAuthenticator } from "./auth.js";
import type { ApiContext } from "./context.js";
import { createRequestHandler } from "./http.js";
import { ImageStore } from "./images/image-store.js";
import { createLogger, type Logger } from "./logger.js";
import { SessionRegistry } from "./session-registry.js";
import { TaskRegistry, type TaskRecord } from "./task-registry.js";
import { handleConnection } from "./ws.js";

export interface VellumServerOptions {
  readonly config: ServerConfig;
  readonly catalog: ModelCatalog;
  /** Makes the images; wrapped in an in-process queue unless `queue` is given. */
  readonly generator: Generator;
  readonly queue?: Queue;
  /** AIRs of the models the generator holds loaded: the in-process queue then prefers their tasks (model affinity). */
  readonly heldModels?: () => readonly string[];
  /** Redis deployments: task records shared between API nodes (src/jobs/redis-task-mirror.ts). */
  readonly taskMirror?: TaskRecordMirror<TaskRecord>;
  readonly logger?: Logger;
}

export interface VellumServer {
  /** http://host:port actually bound (port 0 → the chosen port). */
  readonly url: string;
  readonly port: number;
  readonly context: ApiContext;
  /** Graceful shutdown: no new work, running tasks finish (or fail with an error frame) within shutdownGraceMs. */
  close(): Promise<void>;
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE") reject(new Error(`port ${port} on ${host} is already in use (choose another with --port)`));
      else if (err.code === "EACCES") reject(new Error(`no permission to listen on ${host}:${port}`));
      else if (err.code === "EADDRNOTAVAIL") reject(new Error(`address ${host} is not available on this machine`));
      else reject(err);
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      const addr = server.address();
      resolve(typeof addr === "object" && addr !== null ? addr.port : port);
    });
  });
}

export async function startVellumServer(options: VellumServerOptions): Promise<VellumServer> {
  const { config, catalog } = options;
  const logger = options.logger ?? createLogger(config.logLevel);
  const queue =
    options.queue ??
    createInProcessQueue({
      generator: options.generator,
      maxLength: config.maxQueueLength,
      devices: config.devices,
      maxPerOwner: config.maxTasksPerKey,
      ...(options.heldModels !== undefined && { heldModels: options.heldModels }),
    });
  const images = new ImageStore({ dir: join(config.dataDir, "images"), defaultTtlSeconds: config.imageRetentionSeconds });
  const tasks = new TaskRegistry(config.taskRetentionSeconds * 1000, options.taskMirror);
  const sessions = new SessionRegistry(config.resumeGraceMs);
  const auth = createAuthenticator(config.apiKeys, config.isAuthRequired);
  let boundPort = config.port;
  const context: ApiContext = {
    config,
    catalog,
    queue,
    images,
    tasks,
    logger,
    imageSource: { timeoutMs: config.fetchTimeoutMs, maxBytes: config.maxImageBytes, maxPixels: config.maxImagePixels, isPrivateAllowed: config.isPrivateFetchAllowed },
    baseUrl: () => publicBaseUrl(config, boundPort),
  };

  const server = createServer({ requestTimeout: 0, headersTimeout: 30_000 }, createRequestHandler(context, auth));
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxBodyBytes, perMessageDeflate: false });
  server.on("upgrade", (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => handleConnection(ws, req, { ctx: context, auth, sessions }));
  });
  boundPort = await listen(server, config.host, config.port);
  images.startSweeping();
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  const url = `http://${host}:${boundPort}`;
  logger.info("vellum listening", { url, publicUrl: context.baseUrl(), models: catalog.list().length, auth: config.isAuthRequired });

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      logger.info("shutting down", { running: queue.stats().running, waiting: queue.stats().waiting });
      server.close();
      await queue.close(config.shutdownGraceMs);
      await new Promise((r) => setTimeout(r, 50)); // let the last frames flush
      for (const ws of wss.clients) ws.close(1001, "server shutting down");
      wss.close();
      server.closeAllConnections();
      images.stop();
      tasks.stop();
      sessions.close();
      logger.info("stopped");
    })());
  return { url, port: boundPort, context, close };
}
