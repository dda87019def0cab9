// Serves the playground (`web/`) as static files: `/` → index.html, `/<path>` → a file under the folder. Only plain
// path segments are accepted (no `..`, no dot-files, no encoded separators) and the resolved real path must stay
// inside the folder, so neither a crafted URL nor a symlink can reach anything else.
import { readFile, realpath, stat } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { extname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's `web/` folder (next to `src/`). */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL("../../web/", import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".woff2": "font/woff2",
};

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** The file a URL path names inside `root`, or undefined (not a servable name, or outside the folder). */
export async function resolveStatic(root: string, urlPath: string): Promise<string | undefined> {
  const rel = urlPath === "/" ? "index.html" : urlPath.slice(1);
  const segments = rel.split("/");
  if (segments.some((s) => !SEGMENT.test(s) || s.includes(".."))) return undefined;
  if (CONTENT_TYPES[extname(rel).toLowerCase()] === undefined) return undefined;
  try {
    const realRoot = await realpath(root);
    const real = await realpath(join(realRoot, ...segments));
    if (!real.startsWith(realRoot + sep)) return undefined;
    return (await stat(real)).isFile() ? real : undefined;
  } catch {
    return undefined;
  }
}

/** Answers a GET/HEAD for a static file; false when there is no such file (the caller answers 404). */
export async function serveStatic(root: string, urlPath: string, method: string, res: ServerResponse): Promise<boolean> {
  const file = await resolveStatic(root, urlPath);
  if (file === undefined) return false;
  const body = await readFile(file);
  res.writeHead(200, {
    "content-type": CONTENT_TYPES[extname(file).toLowerCase()]!,
    "content-length": body.length,
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
  });
  res.end(method === "HEAD" ? undefined : body);
  return true;
}
