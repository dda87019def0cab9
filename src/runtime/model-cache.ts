// Puts a built graph on disk where ONNX Runtime will accept its external data: ONNX Runtime resolves each
// initializer's `location` against the model file's directory and refuses absolute paths, `../` and symlinks
// leading outside it. So the model goes to <cache>/onnx/<hash>/model.onnx and every referenced checkpoint is
// hard-linked beside it (copied when linking fails, e.g. across filesystems). A widened graph's float32 sidecars
// are written there too, once, from their checkpoints (writeSidecars, float32-sidecar.ts).
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, linkSync, mkdirSync, realpathSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { BuiltGraph } from "../graph/index.js";
import { writeSidecar } from "./float32-sidecar.js";

export function cacheRoot(): string {
  return process.env["VELLUM_CACHE_DIR"] ?? join(homedir(), ".cache", "vellum");
}

/** Hash of the model bytes and of the identity of every file it points into or widens (path, size, mtime, inode). */
export function modelHash(built: BuiltGraph): string {
  const h = createHash("sha256").update(built.bytes);
  const sources = [...built.externalFiles, ...(built.sidecars ?? []).map((s) => ({ location: s.location, path: s.source }))];
  for (const f of sources) {
    const real = realpathSync(f.path);
    const st = statSync(real);
    h.update(`\0${f.location}\0${real}\0${st.size}\0${st.mtimeMs}\0${st.ino}`);
  }
  return h.digest("hex").slice(0, 32);
}

function sameFile(a: string, b: string): boolean {
  const sa = statSync(a);
  const sb = statSync(b);
  return sa.ino === sb.ino && sa.dev === sb.dev;
}

function placeFile(source: string, target: string): void {
  if (existsSync(target)) {
    if (sameFile(source, target) || statSync(target).size === statSync(source).size) return;
    unlinkSync(target);
  }
  const tmp = `${target}.${process.pid}.tmp`;
  try {
    linkSync(source, tmp);
  } catch {
    copyFileSync(source, tmp);
  }
  renameSync(tmp, target);
}

/** The cache folder of the model with this hash. */
export function modelDir(hash: string): string {
  return join(cacheRoot(), "onnx", hash);
}

/** Writes the model and links its checkpoints (its float32 sidecars: writeSidecars); returns the model file path. */
export function materialize(built: BuiltGraph, hash = modelHash(built)): string {
  const dir = modelDir(hash);
  mkdirSync(dir, { recursive: true });
  for (const f of built.externalFiles) placeFile(realpathSync(f.path), join(dir, f.location));
  const modelPath = join(dir, "model.onnx");
  if (!existsSync(modelPath)) {
    const tmp = `${modelPath}.${process.pid}.tmp`;
    writeFileSync(tmp, built.bytes);
    renameSync(tmp, modelPath);
  }
  return modelPath;
}

/** Writes the model's float32 sidecars that are not in its cache folder yet, one after the other. */
export async function writeSidecars(built: BuiltGraph, hash: string): Promise<void> {
  for (const car of built.sidecars ?? []) await writeSidecar(car, join(modelDir(hash), car.location));
}

/** Deletes the model's float32 sidecars (once its optimised model, which holds its own weights, is saved). */
export function removeSidecars(built: BuiltGraph, hash: string): void {
  for (const car of built.sidecars ?? []) rmSync(join(modelDir(hash), car.location), { force: true });
}
