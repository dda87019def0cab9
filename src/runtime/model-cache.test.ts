import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { writeSafetensors, SafetensorsFile } from "../checkpoint/safetensors.js";
import { safetensorsWeights } from "../checkpoint/weights.js";
import { GraphBuilder } from "../graph/index.js";
import { float32 } from "../tensor/tensor.js";
import { materialize, modelHash } from "./model-cache.js";

const saved = process.env["VELLUM_CACHE_DIR"];
afterEach(() => {
  if (saved === undefined) delete process.env["VELLUM_CACHE_DIR"];
  else process.env["VELLUM_CACHE_DIR"] = saved;
});

function builtWithFile(dir: string) {
  const path = join(dir, "w.safetensors");
  writeSafetensors(path, { w: float32([2, 2], [1, 2, 3, 4]) });
  const file = SafetensorsFile.open(path);
  const g = new GraphBuilder();
  g.output(g.mul(g.input("x", "float32", [2, 2]), g.weight(safetensorsWeights(file).get("w"))), "y");
  file.close();
  return { path, built: g.build() };
}

describe("materialize", () => {
  it("hard-links checkpoints beside the model on the same filesystem", () => {
    const dir = mkdtempSync(join(tmpdir(), "vellum-mc-"));
    process.env["VELLUM_CACHE_DIR"] = join(dir, "cache");
    const { path, built } = builtWithFile(dir);
    const model = materialize(built);
    expect(dirname(model)).toBe(join(dir, "cache", "onnx", modelHash(built)));
    expect(statSync(join(dirname(model), built.externalFiles[0]!.location)).ino).toBe(statSync(path).ino);
    expect(readFileSync(model)).toEqual(Buffer.from(built.bytes));
  });

  it.skipIf(statSync("/dev/shm", { throwIfNoEntry: false })?.dev === statSync(tmpdir()).dev || !statSync("/dev/shm", { throwIfNoEntry: false }))(
    "copies when the cache is on another filesystem",
    () => {
      const dir = mkdtempSync(join(tmpdir(), "vellum-mc-"));
      const cache = mkdtempSync("/dev/shm/vellum-mc-");
      process.env["VELLUM_CACHE_DIR"] = cache;
      const { path, built } = builtWithFile(dir);
      const model = materialize(built);
      const copy = join(dirname(model), built.externalFiles[0]!.location);
      expect(statSync(copy).ino).not.toBe(statSync(path).ino);
      expect(readFileSync(copy)).toEqual(readFileSync(path));
      rmSync(cache, { recursive: true, force: true });
    },
  );

  it("gives a different directory when a referenced file changes", () => {
    const dir = mkdtempSync(join(tmpdir(), "vellum-mc-"));
    const { path, built } = builtWithFile(dir);
    const before = modelHash(built);
    writeSafetensors(path, { w: float32([2, 2], [5, 6, 7, 8]) });
    expect(modelHash(built)).not.toBe(before);
  });
});
