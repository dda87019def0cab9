// Turns a Runware image reference — UUID of a stored image, data URI, raw base64 or http(s) URL — into checked bytes.
import { ApiError } from "../errors.js";
import { safeRequest, type SafeHttpConfig } from "../net/safe-http.js";
import { UUID_RE } from "../runware/params.js";
import { sniffImage, type ImageInfo } from "./image-sniff.js";
import type { ImageStore } from "./image-store.js";

export interface ImageSourceConfig extends SafeHttpConfig {
  readonly maxPixels: number;
}

export interface LoadedImage extends ImageInfo {
  readonly bytes: Uint8Array;
}

const BASE64_RE = /^[A-Za-z0-9+/_-]+={0,2}$/;

function bad(parameter: string, reason: string): ApiError {
  const code = `invalid${parameter.charAt(0).toUpperCase()}${parameter.slice(1)}` as const;
  return new ApiError(code, `Invalid value for ${parameter} parameter. ${reason}`, { parameter, type: "string" });
}

function decodeBase64(text: string, parameter: string, maxBytes: number): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  if (clean.length === 0 || !BASE64_RE.test(clean)) throw bad(parameter, "It is not a UUID, a data URI, base64 data or an http(s) URL.");
  if ((clean.length * 3) / 4 > maxBytes) throw bad(parameter, `The image is larger than ${maxBytes} bytes.`);
  return new Uint8Array(Buffer.from(clean, clean.includes("-") || clean.includes("_") ? "base64url" : "base64"));
}

export async function loadImage(ref: string, parameter: string, store: ImageStore, config: ImageSourceConfig): Promise<LoadedImage> {
  let bytes: Uint8Array;
  const text = ref.trim();
  if (UUID_RE.test(text)) {
    const stored = await store.get(text);
    if (stored === undefined) throw bad(parameter, `No uploaded or generated image has the UUID ${text} (or it expired).`);
    bytes = new Uint8Array(stored.bytes);
  } else if (/^data:/i.test(text)) {
    const m = /^data:([a-z0-9.+/-]*)(;[^,]*)?,(.*)$/is.exec(text);
    if (m === null || !/;base64/i.test(m[2] ?? "")) throw bad(parameter, "Data URIs must be base64 encoded (data:image/png;base64,…).");
    bytes = decodeBase64(m[3]!, parameter, config.maxBytes);
  } else if (/^https?:\/\//i.test(text)) {
    let res;
    try {
      res = await safeRequest(config, text);
    } catch (e) {
      throw bad(parameter, `The image URL could not be fetched: ${(e as Error).message}.`);
    }
    if (res.status !== 200) throw bad(parameter, `The image URL answered HTTP ${res.status}.`);
    bytes = new Uint8Array(res.body);
  } else if (/^[a-z][a-z0-9+.-]*:/i.test(text)) {
    throw bad(parameter, "Only http(s) URLs, data URIs, base64 data and image UUIDs are accepted.");
  } else {
    bytes = decodeBase64(text, parameter, config.maxBytes);
  }
  if (bytes.length > config.maxBytes) throw bad(parameter, `The image is larger than ${config.maxBytes} bytes.`);
  const info = sniffImage(bytes);
  if (info === undefined) throw bad(parameter, "Supported formats are: PNG, JPG, and WEBP.");
  if (info.widthPx < 1 || info.heightPx < 1 || info.widthPx * info.heightPx > config.maxPixels) {
    throw bad(parameter, `The image is ${info.widthPx}×${info.heightPx}; at most ${config.maxPixels} pixels are accepted.`);
  }
  return { ...info, bytes };
}
