// Assembles diffusers-layout model folders from the golden components (symlinks into ../shared/golden),
// so tests load the tiny models exactly as a user's diffusers folder would be loaded.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { goldenJson, goldenPath } from "./golden.js";

export type GoldenFamily = "sd1" | "sdxl" | "sd2";

interface PipelineIndex {
  components: Record<string, Record<string, string>>;
}

function components(family: GoldenFamily): Record<string, string> {
  const index = family === "sd2" ? "sd2/pipelines/index.json" : "pipelines/index.json";
  const all = goldenJson<PipelineIndex>("diffusion", index).components;
  const c = all[family];
  if (c === undefined) throw new Error(`no golden components for ${family}`);
  return c;
}

/**
 * A temporary diffusers folder for a golden family: unet/, vae/, text_encoder(_2)/, tokenizer(_2)/ link to the
 * golden components; `schedulerConfig` (a case's `scheduler_config`) becomes scheduler/scheduler_config.json.
 */
export function goldenModelDir(family: GoldenFamily, schedulerConfig?: Record<string, unknown>, only?: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), `vellum-${family}-`));
  for (const [name, rel] of Object.entries(components(family))) {
    if (only !== undefined && !only.includes(name)) continue;
    symlinkSync(goldenPath("diffusion", rel), join(dir, name), "dir");
  }
  if (schedulerConfig !== undefined) {
    mkdirSync(join(dir, "scheduler"));
    writeFileSync(join(dir, "scheduler", "scheduler_config.json"), JSON.stringify(schedulerConfig, null, 2));
  }
  return dir;
}
