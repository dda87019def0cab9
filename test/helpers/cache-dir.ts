// A fresh model cache for one test file: VELLUM_CACHE_DIR points into a new temporary folder while the file's tests
// run, and is restored (and the folder removed) afterwards.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";

/** `root`: the temporary folder (free for the test's own files); `cache`: the model cache inside it. */
export function useTempCacheDir(prefix: string): { root: string; cache: string } {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const cache = join(root, "cache");
  let previous: string | undefined;
  beforeAll(() => {
    previous = process.env["VELLUM_CACHE_DIR"];
    process.env["VELLUM_CACHE_DIR"] = cache;
  });
  afterAll(() => {
    if (previous === undefined) delete process.env["VELLUM_CACHE_DIR"];
    else process.env["VELLUM_CACHE_DIR"] = previous;
    rmSync(root, { recursive: true, force: true });
  });
  return { root, cache };
}
