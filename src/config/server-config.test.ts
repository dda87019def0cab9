import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ensureApiKey } from "./api-key-file.js";
import { buildServerConfig, configFromEnv, configFromFile, ConfigError, publicBaseUrl } from "./server-config.js";

describe("server config", () => {
  it("has defaults and lets file < env < flags override", () => {
    const dir = mkdtempSync(join(tmpdir(), "vellum-config-"));
    const file = join(dir, "vellum.yaml");
    writeFileSync(file, "port: 9000\nhost: 0.0.0.0\nmaxQueueLength: 5\n");
    const env = configFromEnv({ VELLUM_PORT: "9100", VELLUM_API_KEYS: "key-one-123, key-two-456", VELLUM_AUTH: "false" });
    const config = buildServerConfig(configFromFile(file), env, { port: 9200 });
    expect(config.port).toBe(9200);
    expect(config.host).toBe("0.0.0.0");
    expect(config.maxQueueLength).toBe(5);
    expect(config.apiKeys).toEqual(["key-one-123", "key-two-456"]);
    expect(config.isAuthRequired).toBe(false);
    expect(config.modelsDir.startsWith("/")).toBe(true);
    expect(Object.isFrozen(config)).toBe(true);
    expect(publicBaseUrl(config, 9201)).toBe("http://127.0.0.1:9201");
    expect(publicBaseUrl({ ...config, publicUrl: "https://img.example.com/" })).toBe("https://img.example.com");
  });

  it("reads the job settings: per-key limit, pool size, memory budget, resume grace (defaults, env, serve flags)", async () => {
    const d = buildServerConfig();
    expect([d.maxTasksPerKey, d.maxPipelines, d.memoryBudgetGB, d.resumeGraceMs]).toEqual([0, 2, undefined, 120_000]);
    const env = configFromEnv({ VELLUM_MAX_TASKS_PER_KEY: "3", VELLUM_MAX_PIPELINES: "4", VELLUM_MEMORY_BUDGET_GB: "6.5", VELLUM_RESUME_GRACE_MS: "500" });
    const c = buildServerConfig(env);
    expect([c.maxTasksPerKey, c.maxPipelines, c.memoryBudgetGB, c.resumeGraceMs]).toEqual([3, 4, 6.5, 500]);
    const { configFromArgs } = await import("../cli/serve.js");
    const f = configFromArgs(["--max-tasks-per-key", "5", "--max-pipelines", "1", "--memory-budget", "12"], {});
    expect([f.maxTasksPerKey, f.maxPipelines, f.memoryBudgetGB]).toEqual([5, 1, 12]);
    expect(() => buildServerConfig({ memoryBudgetGB: "-1" })).toThrow(/memoryBudgetGB/);
  });

  it("reads the execution provider: cpu by default, VELLUM_DEVICE, --device; refuses an unknown one", async () => {
    expect(buildServerConfig().device).toBe("cpu");
    expect(buildServerConfig(configFromEnv({ VELLUM_DEVICE: "webgpu" })).device).toBe("webgpu");
    const { configFromArgs } = await import("../cli/serve.js");
    expect(configFromArgs(["--device", "cuda"], { VELLUM_DEVICE: "webgpu" }).device).toBe("cuda");
    expect(() => configFromArgs(["--device", "tpu"], {})).toThrow(/device/);
  });

  it("names the bad setting", () => {
    expect(() => buildServerConfig({ port: 70000 })).toThrow(ConfigError);
    expect(() => buildServerConfig({ port: 70000 })).toThrow(/port/);
    expect(() => buildServerConfig({ publicUrl: "ftp://x" })).toThrow(/publicUrl/);
  });

  it("generates an API key once and reuses it", () => {
    const dir = mkdtempSync(join(tmpdir(), "vellum-key-"));
    const first = ensureApiKey(dir);
    expect(first.isNew).toBe(true);
    expect(statSync(first.path).mode & 0o777).toBe(0o600);
    const second = ensureApiKey(dir);
    expect(second).toEqual({ ...first, isNew: false });
    expect(readFileSync(first.path, "utf-8").trim()).toBe(first.key);
  });
});
