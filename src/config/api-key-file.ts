// The generated API key: created once in the data dir (mode 0600) when no key is configured, then reused.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const API_KEY_FILE = "api-key";

export function ensureApiKey(dataDir: string): { key: string; path: string; isNew: boolean } {
  const path = join(dataDir, API_KEY_FILE);
  if (existsSync(path)) {
    const key = readFileSync(path, "utf-8").trim();
    if (key.length >= 8) return { key, path, isNew: false };
  }
  mkdirSync(dataDir, { recursive: true });
  const key = `vk_${randomBytes(24).toString("base64url")}`;
  writeFileSync(path, `${key}\n`, { mode: 0o600 });
  return { key, path, isNew: true };
}
