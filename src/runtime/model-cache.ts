// Puts a built graph on disk where ONNX Runtime will accept its external data: ONNX Runtime resolves each
// initializer's `location` against the model file's directory and refuses absolute paths, `../` and symlinks
// leading outside it. So the model goes to <cache>/onnx/<hash>/model.onnx and every referenced checkpoint is
// hard-linked beside it (copied when linking fails, e.g. across filesystems). A widened graph's float32 sidecars
// are written there too, once, from their checkpoints (writeSidecars, float32-sidecar.ts).
// The folder is keyed by content: the graph bytes (whose `location`s are neutral, `w0.safetensors`, not the user's
// file names) and the sha256 of every checkpoint (content-hash.ts). A checkpoint copied, moved, renamed or
// downloaded again to the same bytes finds the same folder, with its sidecars and saved optimised model.
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, linkSync, mkdirSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BuiltGraph } from "../graph/index.js";
import { cacheRoot } from "./cache-root.js";
import { contentHash, knownContentHash, rememberContentHash } from "./content-hash.js";
import { writeSidecar } from "./float32-sidecar.js";

export { cacheRoot } from "./cache-root.js";

/** Hash of the model bytes and of the content of every file it points into or widens (sha256 of each file). */
export async function modelHash(built: BuiltGraph): Promise<string> {
  const h = createHash("sha256").update(built.bytes);
  const sources = [...built.externalFiles, ...(built.sidecars ?? []).map((s) => ({ location: s.location, path: s.source }))];
  for (const f of sources) h.update(`\0${f.location}\0${await contentHash(f.path)}`);
  return h.digest("hex").slice(0, 32);
}

function sameFile(a: string, b: string): boolean {
  const sa = statSync(a);
  const sb = statSync(b);
  return sa.ino === sb.ino && sa.dev === sb.dev;
}

/**
 * Makes `target` hold the bytes of `source`, whose sha256 is `sha256`. A target already there is kept when it is
 * `source` itself or was placed with these bytes and not modified since (its memo entry); otherwise (e.g. the
 * checkpoint it links to was rewritten in place) a new link or copy replaces it by rename, never leaving a gap.
 */
function placeFile(source: string, target: string, sha256: string): void {
  if (existsSync(target) && (sameFile(source, target) || knownContentHash(target) === sha256)) return;
  const tmp = `${target}.${process.pid}.tmp`;
  try {
    linkSync(source, tmp);
  } catch {
    copyFileSync(source, tmp);
  }
  renameSync(tmp, target);
  rememberContentHash(target, sha256);
}

/** The cache folder of the model with this hash. */
export function modelDir(hash: string): string {
  return join(cacheRoot(), "onnx", hash);
}

/**
 * Writes the model and links its checkpoints (its float32 sidecars: writeSidecars); returns the model file path.
 * `hash` is `await modelHash(built)`, which also memoised the checkpoints' hashes that placing them checks against.
 */
export function materialize(built: BuiltGraph, hash: string): string {
  const dir = modelDir(hash);
  mkdirSync(dir, { recursive: true });
  for (const f of built.externalFiles) {
    const sha256 = knownContentHash(f.path);
    if (sha256 === undefined) throw new Error(`runtime: ${f.path} changed after its hash was taken; load the model again`);
    placeFile(realpathSync(f.path), join(dir, f.location), sha256);
  }
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
