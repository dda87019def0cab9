// `vellum serve`: the Runware-compatible HTTP + WebSocket server with the in-process queue and the real pipeline
// (pooled models, src/jobs/pipeline-generator.ts, in a worker thread: src/jobs/worker-generator.ts); an empty models folder serves the random demo model.
// Flags override VELLUM_* env, which overrides the config file (--config or VELLUM_CONFIG).
import { accessSync, constants, existsSync, mkdirSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { createLogger } from "../api/logger.js";
import { startVellumServer } from "../api/server.js";
import type { TaskRecord } from "../api/task-registry.js";
import { FolderCatalog } from "../catalog/catalog.js";
import { ensureApiKey } from "../config/api-key-file.js";
import { buildServerConfig, ConfigError, configFromEnv, configFromFile, type ServerConfig } from "../config/server-config.js";
import { defaultMemoryBudgetBytes } from "../jobs/model-pool.js";
import { createWorkerGenerator } from "../jobs/worker-generator.js";
import { probeDevice } from "../runtime/index.js";
import { splitRedisArgs, startRedisServeParts } from "./worker.js";

const HELP = `usage: vellum serve [--host H] [--port N] [--models DIR] [--data DIR] [--api-key KEY]... [--no-auth] [--public-url URL] [--config FILE]

  --host H          interface to bind (default 127.0.0.1; 0.0.0.0 for all)
  --port N          port (default 8787; 0 = any free port)
  --models DIR      models folder (default ./models)
  --data DIR        images and the generated API key (default ./data)
  --api-key KEY     accepted API key (repeatable; also VELLUM_API_KEYS=a,b). None → one is generated in the data dir
  --no-auth         accept every request without a key (local development only)
  --public-url URL  base of image URLs handed to clients (default http://host:port)
  --max-pipelines N loaded pipelines kept in memory, least recently used evicted (default 2)
  --memory-budget GB  upper bound on the weights of loaded pipelines (float32 size), in GB (default 75 % of RAM)
  --device cpu|cuda|webgpu  ONNX Runtime execution provider (default cpu; also VELLUM_DEVICE); checked at start
  --max-tasks-per-key N  running + queued tasks one API key may have (default 0 = no limit)
  --config FILE     YAML/JSON file with any setting of src/config/server-config.ts
  --redis URL       scale out: jobs go through Redis (BullMQ) to workers (\`vellum worker\`), results come back to
                    this node; getResponse works on every node (also VELLUM_REDIS). See docs/scaling.md
  --no-worker       with --redis: this node only serves the API (no embedded worker)`;

/** The default ./models is created on first start (a fresh install works at once); a folder named by the user must exist. */
function checkModelsDir(dir: string): void {
  if (dir === resolve("./models") && !existsSync(dir)) {
    mkdirSync(dir, { recursive: true });
    console.error(`created ${dir}: put .safetensors checkpoints, diffusers folders and LoRAs there (see docs/api-compat.md)`);
  }
  try {
    if (!statSync(dir).isDirectory()) throw new Error("not a directory");
    accessSync(dir, constants.R_OK | constants.X_OK);
  } catch (e) {
    throw new Error(`models folder ${dir} is not readable (${(e as Error).message}); create it or pass --models DIR`);
  }
}

export function configFromArgs(args: string[], env: Record<string, string | undefined>): ServerConfig {
  const { values } = parseArgs({
    args,
    options: {
      host: { type: "string" },
      port: { type: "string" },
      models: { type: "string" },
      data: { type: "string" },
      "api-key": { type: "string", multiple: true },
      "no-auth": { type: "boolean" },
      "public-url": { type: "string" },
      "max-pipelines": { type: "string" },
      "memory-budget": { type: "string" },
      "max-tasks-per-key": { type: "string" },
      device: { type: "string" },
      config: { type: "string" },
    },
    strict: true,
  });
  const file = values.config ?? env.VELLUM_CONFIG;
  const flags: Record<string, unknown> = {
    host: values.host,
    port: values.port,
    modelsDir: values.models,
    dataDir: values.data,
    apiKeys: values["api-key"],
    isAuthRequired: values["no-auth"] === true ? false : undefined,
    publicUrl: values["public-url"],
    maxPipelines: values["max-pipelines"],
    memoryBudgetGB: values["memory-budget"],
    maxTasksPerKey: values["max-tasks-per-key"],
    device: values.device,
  };
  return buildServerConfig(file === undefined ? {} : configFromFile(file), configFromEnv(env), flags);
}

export async function serve(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(HELP);
    return 0;
  }
  let config: ServerConfig;
  const cluster = splitRedisArgs(args); // --redis / --no-worker (src/cli/worker.ts)
  const redisUrl = cluster.redisUrl ?? process.env.VELLUM_REDIS;
  try {
    config = configFromArgs(cluster.rest, process.env);
    checkModelsDir(config.modelsDir);
  } catch (e) {
    console.error(`vellum serve: ${e instanceof ConfigError ? e.message : (e as Error).message}`);
    return 2;
  }
  const logger = createLogger(config.logLevel);
  if (config.isAuthRequired && config.apiKeys.length === 0) {
    const k = ensureApiKey(config.dataDir);
    config = { ...config, apiKeys: [k.key] };
    if (k.isNew) console.error(`vellum serve: generated API key ${k.key} (stored in ${k.path})`);
    else logger.info("using the API key stored in the data dir", { path: k.path });
  }
  if (!config.isAuthRequired) logger.warn("authentication is disabled (--no-auth): for local development only");
  try {
    const catalog = await FolderCatalog.open({ modelsDir: config.modelsDir, dataDir: config.dataDir });
    for (const s of catalog.skipped) logger.warn("model skipped", { path: s.path, reason: s.reason });
    const memoryBudgetBytes = config.memoryBudgetGB === undefined ? defaultMemoryBudgetBytes() : Math.round(config.memoryBudgetGB * 1e9);
    logger.info("model memory budget", { gigabytes: +(memoryBudgetBytes / 1e9).toFixed(1), device: config.device });
    // loads and inference off the event loop
    await probeDevice(config.device);
    const pipelines = createWorkerGenerator({ maxPipelines: config.maxPipelines, device: config.device, memoryBudgetBytes });
    const redis =
      redisUrl === undefined
        ? undefined
        : await startRedisServeParts<TaskRecord>({
            redisUrl,
            catalog,
            pipelines,
            maxQueueLength: config.maxQueueLength,
            maxTasksPerKey: config.maxTasksPerKey,
            isWorkerEmbedded: cluster.isWorkerEmbedded,
            devices: config.devices,
            log: (m, f) => logger.info(m, f),
          });
    const server = await startVellumServer({
      config,
      catalog,
      generator: pipelines.generate,
      heldModels: () => pipelines.heldModels(),
      logger,
      ...(redis !== undefined ? { queue: redis.queue, taskMirror: redis.taskMirror } : {}),
    });
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        void server.close().then(() => redis?.close()).then(() => pipelines.close()).then(resolve);
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
    return 0;
  } catch (e) {
    console.error(`vellum serve: ${(e as Error).message}`);
    return 1;
  }
}
