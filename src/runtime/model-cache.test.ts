import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { writeSafetensors, SafetensorsFile } from "../checkpoint/safetensors.js";
import { safetensorsWeights } from "../checkpoint/weights.js";
import { GraphBuilder } from "../graph/index.js";
import { float32, halfToFloat, toFloat16 } from "../tensor/tensor.js";
import { contentHashReads } from "./content-hash.js";
import { materialize, modelHash } from "./model-cache.js";
import { createSession } from "./session.js";

const saved = process.env["VELLUM_CACHE_DIR"];
afterEach(() => {
  if (saved === undefined) delete process.env["VELLUM_CACHE_DIR"];
  else process.env["VELLUM_CACHE_DIR"] = saved;
});

/** y = x · w, w read from the safetensors file at `path`. */
function buildFrom(path: string) {
  const file = SafetensorsFile.open(path);
  const g = new GraphBuilder();
  g.output(g.mul(g.input("x", "float32", [2, 2]), g.weight(safetensorsWeights(file).get("w"))), "y");
  file.close();
  return g.build();
}

function builtWithFile(dir: string, values = [1, 2, 3, 4], name = "w.safetensors") {
  const path = join(dir, name);
  writeSafetensors(path, { w: float32([2, 2], values) });
  return { path, built: buildFrom(path) };
}

function freshCache(): string {
  const dir = mkdtempSync(join(tmpdir(), "vellum-mc-"));
  process.env["VELLUM_CACHE_DIR"] = join(dir, "cache");
  return dir;
}

const onnxDirs = (dir: string) => readdirSync(join(dir, "cache", "onnx"));

describe("materialize", () => {
  it("hard-links checkpoints beside the model on the same filesystem", async () => {
    const dir = freshCache();
    const { path, built } = builtWithFile(dir);
    const hash = await modelHash(built);
    const model = materialize(built, hash);
    expect(dirname(model)).toBe(join(dir, "cache", "onnx", hash));
    expect(statSync(join(dirname(model), built.externalFiles[0]!.location)).ino).toBe(statSync(path).ino);
    expect(readFileSync(model)).toEqual(Buffer.from(built.bytes));
  });

  it.skipIf(statSync("/dev/shm", { throwIfNoEntry: false })?.dev === statSync(tmpdir()).dev || !statSync("/dev/shm", { throwIfNoEntry: false }))(
    "copies when the cache is on another filesystem, once",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "vellum-mc-"));
      const cache = mkdtempSync("/dev/shm/vellum-mc-");
      process.env["VELLUM_CACHE_DIR"] = cache;
      const { path, built } = builtWithFile(dir);
      const hash = await modelHash(built);
      const model = materialize(built, hash);
      const copy = join(dirname(model), built.externalFiles[0]!.location);
      expect(statSync(copy).ino).not.toBe(statSync(path).ino);
      expect(readFileSync(copy)).toEqual(readFileSync(path));
      const copied = statSync(copy, { bigint: true });
      materialize(built, hash);
      expect(statSync(copy, { bigint: true })).toMatchObject({ ino: copied.ino, mtimeNs: copied.mtimeNs });
      rmSync(cache, { recursive: true, force: true });
    },
  );

  it("keys by content: the same bytes under another name and folder share the folder, one changed byte does not", async () => {
    const dir = freshCache();
    const { path, built } = builtWithFile(dir);
    mkdirSync(join(dir, "downloads"));
    const copy = join(dir, "downloads", "model (1).safetensors");
    copyFileSync(path, copy);
    const again = buildFrom(copy);
    expect(again.externalFiles[0]!.location).toBe(built.externalFiles[0]!.location); // not the file's name
    expect(Buffer.from(again.bytes)).toEqual(Buffer.from(built.bytes));
    expect(await modelHash(again)).toBe(await modelHash(built));
    const changed = builtWithFile(join(dir, "downloads"), [1, 2, 3, 5], "model (1).safetensors").built;
    expect(await modelHash(changed)).not.toBe(await modelHash(built));
  });

  it("costs no read of a checkpoint seen before", async () => {
    const dir = freshCache();
    const { built } = builtWithFile(dir);
    const hash = await modelHash(built);
    const reads = contentHashReads();
    expect(await modelHash(buildFrom(built.externalFiles[0]!.path))).toBe(hash);
    expect(contentHashReads()).toBe(reads);
  });

  it("places a checkpoint again when the file its link points to was rewritten in place", async () => {
    const dir = freshCache();
    const { path, built } = builtWithFile(dir);
    const original = readFileSync(path);
    const hash = await modelHash(built);
    const linked = join(dirname(materialize(built, hash)), built.externalFiles[0]!.location);
    // the user edits the file in place (same inode, so the cache's hard link sees the edit)...
    const edited = Buffer.from(original);
    edited[edited.length - 1] = edited[edited.length - 1]! ^ 0x40;
    writeFileSync(path, edited);
    utimesSync(path, 1_700_000_000, 1_700_000_000);
    expect(readFileSync(linked)).toEqual(edited);
    // ...then loads a copy of the original bytes: same folder, whose link must hold the original bytes again
    const copy = join(dir, "restored.safetensors");
    writeFileSync(copy, original);
    const restored = buildFrom(copy);
    expect(await modelHash(restored)).toBe(hash);
    materialize(restored, hash);
    expect(readFileSync(linked)).toEqual(original);
    expect(statSync(linked).ino).toBe(statSync(copy).ino);
  });
});

describe("createSession with a moved checkpoint", () => {
  /** A float16 checkpoint (so CPU sessions write a float32 sidecar) and the graph over it. */
  function halfCheckpoint(path: string) {
    writeSafetensors(path, { w: toFloat16(float32([2, 2], [0.5, -1.25, 3, 7])) });
    return buildFrom(path);
  }
  const feeds = { x: float32([2, 2], [1, 2, 3, 4]) };
  const want = [0.5, -1.25, 3, 7].map((w, i) => halfToFloat(toFloat16(float32([1], [w])).data[0]!) * (i + 1));

  it("reuses the cached folder: the float32 sidecar and the model are not written again", async () => {
    const dir = freshCache();
    const first = join(dir, "first.safetensors");
    const a = await createSession(halfCheckpoint(first), { threads: 1, cacheOptimized: false });
    expect([...((await a.run(feeds))["y"]!.data as Float32Array)]).toEqual(want);
    await a.release();
    expect(onnxDirs(dir)).toHaveLength(1);
    const folder = join(dir, "cache", "onnx", onnxDirs(dir)[0]!);
    const sidecar = join(folder, readdirSync(folder).find((f) => f.startsWith("f32-"))!);
    const stamp = (p: string) => {
      const st = statSync(p, { bigint: true });
      return { ino: st.ino, mtimeNs: st.mtimeNs };
    };
    const before = { sidecar: stamp(sidecar), model: stamp(join(folder, "model.onnx")) };
    // moved to another folder under another name
    mkdirSync(join(dir, "models"));
    const moved = join(dir, "models", "renamed.safetensors");
    renameSync(first, moved);
    const b = await createSession(buildFrom(moved), { threads: 1, cacheOptimized: false });
    expect([...((await b.run(feeds))["y"]!.data as Float32Array)]).toEqual(want);
    await b.release();
    expect(onnxDirs(dir)).toHaveLength(1);
    expect({ sidecar: stamp(sidecar), model: stamp(join(folder, "model.onnx")) }).toEqual(before);
  });

  it("reuses the saved optimised model for a copy of the checkpoint after the original is deleted", async () => {
    const dir = freshCache();
    const first = join(dir, "first.safetensors");
    const a = await createSession(halfCheckpoint(first), { threads: 1, cacheOptimized: true });
    await a.release();
    const folder = join(dir, "cache", "onnx", onnxDirs(dir)[0]!);
    const optimized = join(folder, readdirSync(folder).find((f) => /^opt-.*\.onnx$/.test(f))!);
    const saved = statSync(optimized, { bigint: true });
    const copy = join(dir, "copy.safetensors");
    copyFileSync(first, copy);
    unlinkSync(first);
    const b = await createSession(buildFrom(copy), { threads: 1, cacheOptimized: true });
    expect([...((await b.run(feeds))["y"]!.data as Float32Array)]).toEqual(want);
    await b.release();
    expect(onnxDirs(dir)).toHaveLength(1);
    expect(statSync(optimized, { bigint: true })).toMatchObject({ ino: saved.ino, mtimeNs: saved.mtimeNs });
    expect(readdirSync(folder).some((f) => f.startsWith("f32-"))).toBe(false); // the sidecar was not written again
  });
});
