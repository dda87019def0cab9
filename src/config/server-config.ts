// The server's configuration: one zod schema; defaults ← config file ← VELLUM_* env ← command-line flags.
// Imports nothing internal.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const bool = z.union([z.boolean(), z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1")]);

export const serverConfigSchema = z.object({
  host: z.string().min(1).default("127.0.0.1"),
  port: port.default(8787),
  /** Folder scanned for checkpoints, LoRAs and VAEs. */
  modelsDir: z.string().min(1).default("./models"),
  /** Generated/uploaded images and the generated API key live here. */
  dataDir: z.string().min(1).default("./data"),
  apiKeys: z.array(z.string().min(8)).default([]),
  /** false only for local development (`--no-auth`). */
  isAuthRequired: bool.default(true),
  /** Base of image URLs handed to clients, e.g. https://img.example.com; default http://<host>:<port>. */
  publicUrl: z.url({ protocol: /^https?$/ }).optional(),
  maxQueueLength: positiveInt.default(32),
  /** Running + queued generation tasks one API key may have at once (0 = no limit); beyond it: rateLimitExceeded. */
  maxTasksPerKey: z.coerce.number().int().min(0).default(0),
  devices: positiveInt.default(1),
  /** ONNX Runtime execution provider: cpu, cuda (CUDA provider installed) or webgpu (bundled; needs a GPU adapter). */
  device: z.enum(["cpu", "cuda", "webgpu"]).default("cpu"),
  /** Loaded pipelines kept in the model pool (least recently used evicted). */
  maxPipelines: positiveInt.default(2),
  /** Upper bound on the summed weight size (float32, as loaded) of loaded pipelines, in GB (10^9 bytes); unset = 75 % of RAM. */
  memoryBudgetGB: z.coerce.number().positive().optional(),
  maxBodyBytes: positiveInt.default(32 * 1024 * 1024),
  maxImageBytes: positiveInt.default(16 * 1024 * 1024),
  maxImagePixels: positiveInt.default(4096 * 4096),
  fetchTimeoutMs: positiveInt.default(15_000),
  /** Lets imageUpload URLs, webhooks and uploadEndpoint reach loopback/private addresses (development/tests only). */
  isPrivateFetchAllowed: bool.default(false),
  /** Images without a `ttl` are deleted after this long. */
  imageRetentionSeconds: positiveInt.default(7 * 24 * 3600),
  /**
   * How long a disconnected WebSocket session may be resumed (Runware: 120 s): its undelivered results are kept that
   * long; after it, the session's still-running synchronous tasks are cancelled.
   */
  resumeGraceMs: positiveInt.default(120_000),
  /** Finished task results kept for getResponse. */
  taskRetentionSeconds: positiveInt.default(3600),
  shutdownGraceMs: z.coerce.number().int().min(0).default(30_000),
  logLevel: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
});

export type ServerConfig = Readonly<z.infer<typeof serverConfigSchema>>;
export type ServerConfigInput = z.input<typeof serverConfigSchema>;

/** VELLUM_* variables and the config keys they set (VELLUM_API_KEYS is a comma list). */
const ENV: Record<string, keyof ServerConfigInput> = {
  VELLUM_HOST: "host",
  VELLUM_PORT: "port",
  VELLUM_MODELS: "modelsDir",
  VELLUM_DATA: "dataDir",
  VELLUM_API_KEYS: "apiKeys",
  VELLUM_AUTH: "isAuthRequired",
  VELLUM_PUBLIC_URL: "publicUrl",
  VELLUM_MAX_QUEUE: "maxQueueLength",
  VELLUM_DEVICES: "devices",
  VELLUM_DEVICE: "device",
  VELLUM_MAX_TASKS_PER_KEY: "maxTasksPerKey",
  VELLUM_MAX_PIPELINES: "maxPipelines",
  VELLUM_MEMORY_BUDGET_GB: "memoryBudgetGB",
  VELLUM_RESUME_GRACE_MS: "resumeGraceMs",
  VELLUM_LOG_LEVEL: "logLevel",
  VELLUM_ALLOW_PRIVATE_FETCH: "isPrivateFetchAllowed",
};

export function configFromEnv(env: Record<string, string | undefined>): Partial<Record<keyof ServerConfigInput, unknown>> {
  const out: Partial<Record<keyof ServerConfigInput, unknown>> = {};
  for (const [name, key] of Object.entries(ENV)) {
    const v = env[name];
    if (v === undefined || v === "") continue;
    out[key] = key === "apiKeys" ? v.split(",").map((s) => s.trim()).filter((s) => s !== "") : v;
  }
  return out;
}

/** Reads a YAML or JSON config file (keys as in the schema). */
export function configFromFile(path: string): Record<string, unknown> {
  const text = readFileSync(path, "utf-8");
  const value: unknown = parseYaml(text);
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw new Error(`${path}: the config file must be a mapping of settings`);
  return value as Record<string, unknown>;
}

export class ConfigError extends Error {}

/** Merges the layers (later wins), validates, resolves folders to absolute paths and freezes. */
export function buildServerConfig(...layers: Record<string, unknown>[]): ServerConfig {
  const merged: Record<string, unknown> = {};
  for (const layer of layers) for (const [k, v] of Object.entries(layer)) if (v !== undefined) merged[k] = v;
  const parsed = serverConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
  }
  const c = parsed.data;
  return Object.freeze({ ...c, modelsDir: resolve(c.modelsDir), dataDir: resolve(c.dataDir), apiKeys: Object.freeze([...c.apiKeys]) as string[] });
}

/** The base URL images are served from. */
export function publicBaseUrl(config: Pick<ServerConfig, "publicUrl" | "host" | "port">, boundPort?: number): string {
  if (config.publicUrl !== undefined) return config.publicUrl.replace(/\/+$/, "");
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  const h = host.includes(":") ? `[${host}]` : host;
  return `http://${h}:${boundPort ?? config.port}`;
}
