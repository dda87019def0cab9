import { mkdtempSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadModel } from "../checkpoint/load.js";
import { closeModel } from "../checkpoint/model.js";
import { FolderCatalog, localAir } from "./catalog.js";
import { civitaiToClipSkip, maxClipSkip } from "./clip-skip.js";
import { DEMO_AIR } from "./demo.js";

const golden = (p: string) => resolve(dirname(fileURLToPath(import.meta.url)), "../../../shared/golden/diffusion", p);

function modelsDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "vellum-catalog-"));
  mkdirSync(join(dir, "checkpoints"));
  mkdirSync(join(dir, "loras"));
  for (const f of ["tiny_sd1.safetensors", "tiny_sd1.yaml", "tiny_sd1.config.json"]) symlinkSync(golden(`single_file/${f}`), join(dir, "checkpoints", f));
  for (const f of ["tiny_sd2.safetensors", "tiny_sd2.yaml", "tiny_sd2.config.json"]) symlinkSync(golden(`sd2/single_file/${f}`), join(dir, "checkpoints", f));
  symlinkSync(golden("lora/tiny_sd1_lora_kohya.safetensors"), join(dir, "loras", "style.safetensors"));
  symlinkSync(golden("models/unet_sd1"), join(dir, "not-a-pipeline")); // a bare component folder: nothing to list
  writeFileSync(join(dir, "catalog.yaml"), ["models:", "  - air: civitai:101@202", "    file: checkpoints/tiny_sd1.safetensors", "    name: Tiny anime", '    clipSkip: "Clip skip: 2"', "    defaults: { steps: 20, CFGScale: 7 }"].join("\n"));
  return dir;
}

describe("FolderCatalog", () => {
  it("lists single files and LoRAs, with AIRs, clipSkip advice and limits", async () => {
    const dir = modelsDir();
    const catalog = await FolderCatalog.open({ modelsDir: dir, dataDir: join(dir, "..", "data-unused") });
    const sd1 = catalog.resolve("civitai:101@202");
    expect(sd1).toMatchObject({ name: "Tiny anime", category: "checkpoint", architecture: "sd1x", family: "sd1", civitaiClipSkip: 2, recommendedClipSkip: { value: 1, source: "civitai" }, maxClipSkip: 4, defaults: { steps: 20, CFGScale: 7 } });
    const sd2 = catalog.resolve(localAir("checkpoints/tiny_sd2.safetensors"));
    expect(sd2).toMatchObject({ architecture: "sd2x", maxClipSkip: 3 });
    const lora = catalog.resolve(localAir("loras/style.safetensors"));
    expect(lora).toMatchObject({ category: "lora" });
    expect(catalog.list().some((e) => e.isDemo)).toBe(false);
    expect(catalog.resolve(join(dir, "checkpoints/tiny_sd1.safetensors"))).toBeUndefined(); // never by path
    expect(catalog.list().map((e) => e.air).sort()).toEqual([localAir("checkpoints/tiny_sd2.safetensors"), localAir("loras/style.safetensors"), "civitai:101@202"].sort());
  });

  it("writes and lists the random demo model when there is no checkpoint; it loads like the golden tiny SD1", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vellum-empty-"));
    const catalog = await FolderCatalog.open({ modelsDir: join(dir, "models"), dataDir: join(dir, "data") });
    const demo = catalog.resolve(DEMO_AIR);
    expect(demo?.isDemo).toBe(true);
    expect(demo?.name).toMatch(/random/i);
    const { model, unmappedKeys } = loadModel(demo!.path);
    const reference = loadModel(golden("single_file/tiny_sd1.safetensors")).model;
    expect(unmappedKeys).toEqual([]);
    expect(model.unet!.weights.names().sort()).toEqual(reference.unet!.weights.names().sort());
    expect(model.textEncoder!.weights.names().sort()).toEqual(reference.textEncoder!.weights.names().sort());
    closeModel(model);
    closeModel(reference);
    const again = await FolderCatalog.open({ modelsDir: join(dir, "models"), dataDir: join(dir, "data") });
    expect(again.resolve(DEMO_AIR)?.path).toBe(demo!.path);
  });
});

describe("clipSkip conversion (spec §1.9)", () => {
  it.each([
    [1, "sd1", 0], [2, "sd1", 1], [3, "sd1", 2],
    [2, "sd2", 0],
    [1, "sdxl", 0], [2, "sdxl", 0], [3, "sdxl", 1],
  ] as const)("Clip skip: %i on %s → %i", (n, family, ours) => expect(civitaiToClipSkip(n, family)).toBe(ours));
  it("max clipSkip from encoder depth", () => {
    expect(maxClipSkip("sd1", { num_hidden_layers: 12 }, undefined)).toBe(11);
    expect(maxClipSkip("sd2", { num_hidden_layers: 23 }, undefined)).toBe(22);
    expect(maxClipSkip("sdxl", { num_hidden_layers: 12 }, { num_hidden_layers: 32 })).toBe(10);
    expect(maxClipSkip("sdxl-refiner", undefined, { num_hidden_layers: 32 })).toBe(30);
  });
});
