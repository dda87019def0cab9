// Boots the real server on 127.0.0.1 (random port) with the REAL pipeline generator over a FolderCatalog of the tiny
// golden SD1 model: a temp models folder that symlinks a diffusers folder assembled from the golden components (Euler,
// the scheduler config of the first pipelines/index.json case), the golden VAE file and a copy of the golden kohya
// LoRA stamped with `ss_clip_skip` metadata, named by a catalog.yaml. One hand-made non-CLIP entry is added.
import { mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../../../src/api/logger.js";
import { startVellumServer, type VellumServer } from "../../../src/api/server.js";
import { FolderCatalog } from "../../../src/catalog/catalog.js";
import type { CatalogEntry, ModelCatalog } from "../../../src/catalog/types.js";
import { readSafetensors, writeSafetensors } from "../../../src/checkpoint/safetensors.js";
import { buildServerConfig } from "../../../src/config/server-config.js";
import { createWorkerGenerator, type WorkerGenerator } from "../../../src/jobs/worker-generator.js";
import type { Generator } from "../../../src/jobs/types.js";
import { goldenJson, goldenPath } from "../../helpers/golden.js";
import { goldenModelDir } from "../../helpers/model-fixtures.js";

export const API_KEY = "contract-test-key-0123456789";
export const SD1_AIR = "vellum:tiny-sd1@1";
export const VAE_AIR = "vellum:tiny-vae@1";
export const LORA_AIR = "vellum:tiny-lora@1";
export const FLUX_AIR = "vellum:tiny-flux@1";
/** The A1111 "Clip skip" written into the test LoRA's kohya metadata (2 → our clipSkip 1 for SD1). */
export const LORA_TRAINING_CLIP_SKIP = 2;

export interface TinyCatalog {
  readonly catalog: ModelCatalog;
  /** The diffusers folder the SD1 entry points at (pass it to `vellum generate --model` for identical metadata). */
  readonly modelDir: string;
  readonly sd1: CatalogEntry;
}

let shared: Promise<TinyCatalog> | undefined;

async function buildTinyCatalog(): Promise<TinyCatalog> {
  const cases = goldenJson<{ cases: { scheduler_config: Record<string, unknown> }[] }>("diffusion", "pipelines/index.json").cases;
  const modelDir = goldenModelDir("sd1", cases[0]!.scheduler_config);
  const models = mkdtempSync(join(tmpdir(), "vellum-contract-models-"));
  symlinkSync(modelDir, join(models, "tiny-sd1"), "dir");
  symlinkSync(goldenPath("diffusion", "models/vae_sd1/diffusion_pytorch_model.safetensors"), join(models, "tiny-vae.safetensors"));
  const lora = readSafetensors(goldenPath("diffusion", "lora/tiny_sd1_lora_kohya.safetensors"));
  writeSafetensors(join(models, "tiny-lora.safetensors"), lora, { ss_clip_skip: String(LORA_TRAINING_CLIP_SKIP), ss_base_model_version: "sd_v1" });
  writeFileSync(
    join(models, "catalog.yaml"),
    [
      "models:",
      `  - { air: "${SD1_AIR}", file: tiny-sd1, name: Tiny SD1 (golden), tags: [test], defaults: { steps: 2, width: 128, height: 128 } }`,
      `  - { air: "${VAE_AIR}", file: tiny-vae.safetensors, name: Tiny VAE, category: vae }`,
      `  - { air: "${LORA_AIR}", file: tiny-lora.safetensors, name: Tiny LoRA, category: lora }`,
      "",
    ].join("\n"),
  );
  const folder = await FolderCatalog.open({ modelsDir: models, dataDir: mkdtempSync(join(tmpdir(), "vellum-contract-catalog-")), demo: false });
  const sd1 = folder.resolve(SD1_AIR);
  if (sd1 === undefined) throw new Error(`catalog did not list ${SD1_AIR}: ${JSON.stringify(folder.list())} skipped ${JSON.stringify(folder.skipped)}`);
  const flux: CatalogEntry = { air: FLUX_AIR, name: "Tiny non-CLIP", version: "1", category: "checkpoint", architecture: "flux1", path: sd1.path, defaults: {} };
  const entries = [...folder.list(), flux];
  const catalog: ModelCatalog = { list: () => entries, resolve: (air) => entries.find((e) => e.air === air), refresh: async () => {} };
  return { catalog, modelDir: sd1.path, sd1 };
}

/** One catalog per test file (the folder is assembled once). */
export function tinyCatalog(): Promise<TinyCatalog> {
  return (shared ??= buildTinyCatalog());
}

export interface TestServerOptions {
  /** A test double; default the real pipeline generator. */
  generator?: Generator;
  settings?: Record<string, unknown>;
  /** Catalog entries offered besides the tiny catalog's. */
  extraEntries?: readonly CatalogEntry[];
}

export interface TestServer extends VellumServer {
  /** The real generator, in its worker thread as `vellum serve` runs it (undefined when a test double was given). */
  readonly pipelines?: WorkerGenerator;
  readonly tiny: TinyCatalog;
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const tiny = await tinyCatalog();
  const config = buildServerConfig({
    host: "127.0.0.1",
    port: 0,
    dataDir: mkdtempSync(join(tmpdir(), "vellum-contract-")),
    apiKeys: [API_KEY],
    logLevel: "silent",
    shutdownGraceMs: 2000,
    ...opts.settings,
  });
  const pipelines = opts.generator === undefined ? createWorkerGenerator({ maxPipelines: 2, threads: 2 }) : undefined;
  const entries = [...tiny.catalog.list(), ...(opts.extraEntries ?? [])];
  const catalog: ModelCatalog = opts.extraEntries === undefined ? tiny.catalog : { list: () => entries, resolve: (air) => entries.find((e) => e.air === air), refresh: async () => {} };
  const server = await startVellumServer({ config, catalog, generator: opts.generator ?? pipelines!.generate, logger: createLogger("silent") });
  return {
    ...server,
    ...(pipelines !== undefined && { pipelines }),
    tiny,
    close: async () => {
      await server.close();
      await pipelines?.close();
    },
  };
}

export function wsUrl(server: VellumServer): string {
  return server.url.replace(/^http/, "ws");
}
