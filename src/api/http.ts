// Routes: GET /health (no auth), POST /v1 (tasks), GET /image/<uuid>.<ext> (no auth, unguessable), and the
// playground's static files from `web/` (GET / → index.html). Nothing else.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Authenticator } from "./auth.js";
import type { ApiContext } from "./context.js";
import { ApiError } from "./errors.js";
import { parseJson, stringifyJson } from "./json.js";
import { handleRest } from "./rest.js";
import { DEFAULT_WEB_DIR, serveStatic } from "./static-files.js";

const IMAGE_ROUTE = /^\/image\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.(png|jpg|webp)$/;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = stringifyJson(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, e: ApiError): void {
  const w = e.toWire();
  send(res, status, { errors: [w], error: w });
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > maxBytes) return reject(new ApiError("requestTooLarge", `The request body is larger than ${maxBytes} bytes.`, { status: 413 }));
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) {
        reject(new ApiError("requestTooLarge", `The request body is larger than ${maxBytes} bytes.`, { status: 413 }));
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf-8")));
    req.on("error", reject);
  });
}

/** `webDir`: the playground folder served at `/` (default the repository's `web/`; null = no static files). */
export function createRequestHandler(ctx: ApiContext, auth: Authenticator, webDir: string | null = DEFAULT_WEB_DIR) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? "/").split("?")[0]!;
    try {
      if (req.method === "GET" && path === "/health") {
        return send(res, 200, { status: "ok", queue: ctx.queue.stats(), models: ctx.catalog.list().length });
      }
      if (path === "/v1" || path === "/v1/") {
        if (req.method !== "POST") return sendError(res, 405, new ApiError("invalidTask", "Use POST with a JSON array of tasks."));
        const text = await readBody(req, ctx.config.maxBodyBytes);
        let frame: unknown;
        try {
          frame = parseJson(text);
        } catch {
          return sendError(res, 400, new ApiError("invalidJson", "The request body is not valid JSON. Send a JSON array of task objects."));
        }
        const r = await handleRest(frame, req.headers.authorization, auth, ctx);
        return send(res, r.status, r.body);
      }
      const m = IMAGE_ROUTE.exec(path);
      if (m !== null && (req.method === "GET" || req.method === "HEAD")) {
        const img = await ctx.images.get(m[1]!, m[2]!);
        if (img === undefined) return sendError(res, 404, new ApiError("invalidTask", "No such image (or it expired).", { status: 404 }));
        res.writeHead(200, {
          "content-type": img.mime,
          "content-length": img.bytes.length,
          "cache-control": "private, max-age=3600",
          "x-content-type-options": "nosniff",
          "content-security-policy": "default-src 'none'",
        });
        res.end(req.method === "HEAD" ? undefined : img.bytes);
        return;
      }
      if (webDir !== null && (req.method === "GET" || req.method === "HEAD") && (await serveStatic(webDir, path, req.method, res))) return;
      sendError(res, 404, new ApiError("invalidTask", "Not found. Endpoints: POST /v1, WebSocket on any path, GET /health, GET /image/<uuid>.<ext>.", { status: 404 }));
    } catch (err) {
      if (err instanceof ApiError) return sendError(res, err.status, err);
      ctx.logger.error("http handler crashed", { path, error: String((err as Error)?.stack ?? err) });
      if (!res.headersSent) sendError(res, 500, new ApiError("internalServerError", "Internal server error.", { status: 500 }));
      else res.destroy();
    }
  };
}
