// The catalog every process of the cluster tests opens: the ticking test model (queue tests) and the tiny golden SD1
// model under a fixed AIR (each process links its own copy of the golden folder; the AIR is what crosses processes).
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { CatalogEntry, ModelCatalog } from "../../../src/catalog/types.js";
import { TEST_MODEL } from "./ticking-generator.js";

export const TINY_SD1_AIR = "vellum:tiny-sd1@1";
export const API_KEY = "jobs-test-key-0123456789";

const goldenDiffusion = resolve(dirname(fileURLToPath(import.meta.url)), "../../../../shared/golden/diffusion");

/** A diffusers folder linking the golden tiny SD1 components (as test/helpers/model-fixtures does, without vitest). */
export function tinySd1Dir(): string {
  const index = JSON.parse(readFileSync(join(goldenDiffusion, "pipelines/index.json"), "utf-8")) as { components: Record<string, Record<string, string>> };
  const dir = join(mkdtempSync(join(tmpdir(), "vellum-jobs-")), "tiny-sd1"); // same folder name in every process
  mkdirSync(dir);
  for (const [name, rel] of Object.entries(index.components.sd1 ?? {})) symlinkSync(join(goldenDiffusion, rel), join(dir, name), "dir");
  return dir;
}

export function clusterCatalog(): ModelCatalog {
  const entries: CatalogEntry[] = [
    { ...TEST_MODEL, defaults: { steps: 3, width: 128, height: 128 } },
    { air: TINY_SD1_AIR, name: "Tiny SD1 (golden)", version: "1", category: "checkpoint", architecture: "sd1x", family: "sd1", path: tinySd1Dir(), defaults: { steps: 2, width: 128, height: 128 }, maxClipSkip: 3 },
  ];
  return { list: () => entries, resolve: (air) => entries.find((e) => e.air === air), refresh: async () => {} };
}
