// Where vellum keeps what it writes once and reuses: built models (model-cache.ts) and checkpoint hashes
// (content-hash.ts). `$VELLUM_CACHE_DIR`, else ~/.cache/vellum.
import { homedir } from "node:os";
import { join } from "node:path";

export function cacheRoot(): string {
  return process.env["VELLUM_CACHE_DIR"] ?? join(homedir(), ".cache", "vellum");
}
