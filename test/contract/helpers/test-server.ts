// Boots the real server on 127.0.0.1 (random port) over a catalog of the tiny golden SD1 model.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../../../src/api/logger.js";
import { startVellumServer, type VellumServer } from "../../../src/api/server.js";
import type { CatalogEntry, ModelCatalog } from "../../../src/catalog/types.js";
import { buildServerConfig } from "../../../src/config/server-config.js";
import type { Generator } from "../../../src/jobs/types.js";
import { goldenModelDir } from "../../helpers/model-fixtures.js";
import { parameterImageGenerator } from "./parameter-image-generator.js";

export const API_KEY = "contract-test-key-0123456789";
export const SD1_AIR = "vellum:tiny-sd1@1";

/** A catalog literal over the golden tiny SD1 model (until src/catalog lands), plus a LoRA/VAE/non-CLIP entry. */
export function tinyCatalog(): ModelCatalog {
  const path = goldenModelDir("sd1");
  const entries: CatalogEntry[] = [
    { air: SD1_AIR, name: "Tiny SD1 (golden)", version: "1", category: "checkpoint", architecture: "sd1x", family: "sd1", path, defaults: { steps: 4, width: 128, height: 128 }, maxClipSkip: 3, tags: ["test"] },
    { air: "vellum:tiny-flux@1", name: "Tiny non-CLIP", version: "1", category: "checkpoint", architecture: "flux1", path, defaults: {} },
    { air: "vellum:tiny-vae@1", name: "Tiny VAE", version: "1", category: "vae", architecture: "sd1x", path, defaults: {} },
  ];
  return { list: () => entries, resolve: (air) => entries.find((e) => e.air === air), refresh: async () => {} };
}

export interface TestServerOptions {
  generator?: Generator;
  settings?: Record<string, unknown>;
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<VellumServer> {
  const config = buildServerConfig({
    host: "127.0.0.1",
    port: 0,
    dataDir: mkdtempSync(join(tmpdir(), "vellum-contract-")),
    apiKeys: [API_KEY],
    logLevel: "silent",
    shutdownGraceMs: 2000,
    ...opts.settings,
  });
  return startVellumServer({ config, catalog: tinyCatalog(), generator: opts.generator ?? parameterImageGenerator, logger: createLogger("silent") });
}

export function wsUrl(server: VellumServer): string {
  return server.url.replace(/^http/, "ws");
}
