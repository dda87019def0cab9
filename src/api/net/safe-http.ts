// Outbound HTTP for user-supplied URLs: http(s) only, no redirects, resolved address checked before connecting
// (and pinned, so DNS cannot change between check and connect), size and time limits.
import { lookup } from "node:dns";
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { isNonPublicAddress } from "./address-guard.js";

export interface SafeHttpConfig {
  readonly timeoutMs: number;
  readonly maxBytes: number;
  /** Development/tests only: allow loopback and private addresses. */
  readonly isPrivateAllowed: boolean;
}

export class OutboundError extends Error {}

export interface OutboundResponse {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

function guardedLookup(isPrivateAllowed: boolean): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, "", 4);
      const list = addresses as unknown as { address: string; family: number }[];
      const bad = list.find((a) => isNonPublicAddress(a.address));
      if (bad !== undefined && !isPrivateAllowed) {
        return callback(new OutboundError(`refusing to connect to non-public address ${bad.address}`), "", 4);
      }
      const first = list[0];
      if (first === undefined) return callback(new OutboundError(`${hostname} did not resolve`), "", 4);
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: typeof list) => void)(null, list);
      callback(null, first.address, first.family);
    });
  };
}

/** One request to a user-supplied URL; the body is read up to `maxBytes`. Never follows redirects. */
export function safeRequest(config: SafeHttpConfig, rawUrl: string, init: { method?: string; body?: Uint8Array | string; headers?: Record<string, string> } = {}): Promise<OutboundResponse> {
  return new Promise((resolvePromise, reject) => {
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      return reject(new OutboundError("not a valid URL"));
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") return reject(new OutboundError(`${url.protocol} URLs are not allowed`));
    if (url.username !== "" || url.password !== "") return reject(new OutboundError("URLs with credentials are not allowed"));
    const client = url.protocol === "https:" ? https : http;
    const req = client.request(
      url,
      { method: init.method ?? "GET", headers: init.headers, lookup: guardedLookup(config.isPrivateAllowed), timeout: config.timeoutMs },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400) {
          res.resume();
          return reject(new OutboundError(`redirects are not followed (HTTP ${status})`));
        }
        const declared = Number(res.headers["content-length"] ?? 0);
        if (declared > config.maxBytes) {
          res.destroy();
          return reject(new OutboundError(`response larger than ${config.maxBytes} bytes`));
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > config.maxBytes) {
            res.destroy();
            reject(new OutboundError(`response larger than ${config.maxBytes} bytes`));
          } else chunks.push(c);
        });
        res.on("end", () => resolvePromise({ status, contentType: res.headers["content-type"], body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    const timer = setTimeout(() => req.destroy(new OutboundError(`no answer within ${config.timeoutMs} ms`)), config.timeoutMs);
    req.on("close", () => clearTimeout(timer));
    req.on("timeout", () => req.destroy(new OutboundError(`no answer within ${config.timeoutMs} ms`)));
    req.on("error", (e) => reject(e instanceof OutboundError ? e : new OutboundError(e.message)));
    req.end(init.body);
  });
}
