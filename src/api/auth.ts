// API keys: constant-time comparison against every configured key; a key maps to an opaque owner id
// (results, sessions and getResponse are scoped to it).
import { createHash, timingSafeEqual } from "node:crypto";

export interface Authenticator {
  /** The owner id for a valid key, undefined otherwise. With auth disabled every caller is owner "local". */
  check(apiKey: unknown): string | undefined;
  readonly isRequired: boolean;
}

const digest = (s: string) => createHash("sha256").update(s, "utf-8").digest();

export function createAuthenticator(keys: readonly string[], isRequired: boolean): Authenticator {
  const digests = keys.map(digest);
  return {
    isRequired,
    check(apiKey) {
      if (!isRequired) return "local";
      if (typeof apiKey !== "string" || apiKey.length === 0 || apiKey.length > 4096) return undefined;
      const d = digest(apiKey);
      let match: Buffer | undefined;
      for (const k of digests) if (timingSafeEqual(k, d)) match = k; // no early exit: every key is compared
      return match === undefined ? undefined : `key-${match.subarray(0, 8).toString("hex")}`;
    },
  };
}
