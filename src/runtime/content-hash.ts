// sha256 of a whole file: what the model cache keys a checkpoint by (model-cache.ts), so a checkpoint copied, moved,
// renamed or downloaded again to the same bytes finds its cached model. Reading a checkpoint costs about a second
// per GB, so each hash is memoised in <cache>/content-hash/ under the file's identity (device, inode, size, mtime
// in ns, real path): a file seen before costs a stat and a small read; a file whose size, mtime or inode changed is
// hashed again. Memo entries are written to a temporary name and renamed, so concurrent writers never tear one.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync, type BigIntStats } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { cacheRoot } from "./cache-root.js";

/** Bytes per read; two buffers alternate so the next read overlaps hashing the last one. */
const CHUNK_BYTES = 16 * 2 ** 20;

/** Tries before giving up on a file that keeps changing while it is hashed (e.g. still downloading). */
const ATTEMPTS = 3;

interface MemoEntry {
  readonly identity: string;
  readonly sha256: string;
}

let filesRead = 0;

/** Number of files this process has read in full to hash them (memo hits do not count); for tests and diagnostics. */
export function contentHashReads(): number {
  return filesRead;
}

function identityOf(real: string, st: BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${real}`;
}

function memoPath(identity: string): string {
  return join(cacheRoot(), "content-hash", `${createHash("sha256").update(identity).digest("hex").slice(0, 32)}.json`);
}

function recall(identity: string): string | undefined {
  try {
    const entry = JSON.parse(readFileSync(memoPath(identity), "utf8")) as MemoEntry;
    return entry.identity === identity && /^[0-9a-f]{64}$/.test(entry.sha256) ? entry.sha256 : undefined;
  } catch {
    return undefined;
  }
}

function remember(identity: string, sha256: string): void {
  const path = memoPath(identity);
  mkdirSync(join(cacheRoot(), "content-hash"), { recursive: true });
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, JSON.stringify({ identity, sha256 } satisfies MemoEntry));
  renameSync(tmp, path);
}

function currentIdentity(path: string): string {
  const real = realpathSync.native(path);
  return identityOf(real, statSync(real, { bigint: true }));
}

/** The memoised sha256 of `path` as it is now, without reading it; undefined when it was not hashed in this state. */
export function knownContentHash(path: string): string | undefined {
  return recall(currentIdentity(path));
}

/**
 * Records `sha256` as the hash of `path` as it is now, for a file whose bytes are known without reading them: a copy
 * or hard link the model cache just made of a hashed checkpoint.
 */
export function rememberContentHash(path: string, sha256: string): void {
  remember(currentIdentity(path), sha256);
}

async function digest(fh: FileHandle, size: number): Promise<string> {
  const h = createHash("sha256");
  const buffers = [Buffer.allocUnsafe(Math.min(CHUNK_BYTES, size)), Buffer.allocUnsafe(Math.min(CHUNK_BYTES, size))];
  let position = 0;
  let next = 0;
  let pending = size > 0 ? fh.read(buffers[next]!, 0, buffers[next]!.length, 0) : undefined;
  while (pending !== undefined) {
    const { bytesRead, buffer } = await pending;
    if (bytesRead === 0) throw new Error(`runtime: file ended at byte ${position} while hashing ${size} bytes`);
    position += bytesRead;
    next ^= 1;
    pending = position < size ? fh.read(buffers[next]!, 0, Math.min(buffers[next]!.length, size - position), position) : undefined;
    h.update(buffer.subarray(0, bytesRead));
  }
  return h.digest("hex");
}

/** Reads and hashes the file, retrying while its identity changes under the read. */
async function hashAndRemember(real: string): Promise<string> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const fh = await open(real, "r");
    try {
      const st = await fh.stat({ bigint: true });
      const before = identityOf(real, st);
      const sha256 = await digest(fh, Number(st.size));
      filesRead++;
      if (before === identityOf(real, statSync(real, { bigint: true }))) {
        remember(before, sha256);
        return sha256;
      }
    } finally {
      await fh.close();
    }
  }
  throw new Error(`runtime: ${real} kept changing while it was hashed (is it still being written?)`);
}

const hashing = new Map<string, Promise<string>>();

/** sha256 (hex) of the file's bytes; memoised on disk by file identity, one read shared by concurrent callers. */
export async function contentHash(path: string): Promise<string> {
  const real = realpathSync.native(path);
  const identity = identityOf(real, statSync(real, { bigint: true }));
  const known = recall(identity);
  if (known !== undefined) return known;
  let pending = hashing.get(identity);
  if (pending === undefined) {
    pending = hashAndRemember(real).finally(() => hashing.delete(identity));
    hashing.set(identity, pending);
  }
  return pending;
}
