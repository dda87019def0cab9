// The catalog entry of a model given by path (the CLI's `--model FILE|DIR`): the catalog.json / catalog.yaml of the
// folder holding it, if there is one, scanned like the server's models folder. No catalog file → undefined (a bare
// checkpoint carries no clip-skip advice, and scanning an arbitrary folder is not wanted).
import { existsSync, realpathSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { FolderCatalog } from "./catalog.js";
import type { CatalogEntry } from "./types.js";

const CATALOG_FILES = ["catalog.json", "catalog.yaml", "catalog.yml"];

export async function catalogEntryForPath(modelPath: string): Promise<CatalogEntry | undefined> {
  const real = realpathSync(resolve(modelPath));
  // the folder the user named it in (a symlink's folder) and the folder of the real file / diffusers folder
  for (const dir of new Set([dirname(resolve(modelPath)), dirname(real)])) {
    if (!CATALOG_FILES.some((f) => existsSync(join(dir, f)))) continue;
    const catalog = await FolderCatalog.open({ modelsDir: dir, demo: false });
    const entry = catalog.list().find((e) => e.path === real);
    if (entry !== undefined) return entry;
  }
  return undefined;
}
