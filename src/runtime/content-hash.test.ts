import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync, writeSync, closeSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { contentHash, contentHashReads, knownContentHash } from "./content-hash.js";
import { useTempCacheDir } from "../../test/helpers/cache-dir.js";

const { root: dir } = useTempCacheDir("vellum-content-hash-");


/** A file of `n` pseudo-random bytes (a little more than one 16 MiB read when large). */
function writeBytes(path: string, n: number, seed = 1): Buffer {
  const bytes = Buffer.alloc(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    bytes[i] = s >>> 24;
  }
  writeFileSync(path, bytes);
  return bytes;
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** Overwrites one byte in place (same inode, same size) and moves the mtime to `mtimeS`. */
function pokeByte(path: string, at: number, value: number, mtimeS: number): void {
  const fd = openSync(path, "r+");
  writeSync(fd, Buffer.from([value]), 0, 1, at);
  closeSync(fd);
  utimesSync(path, mtimeS, mtimeS);
}

describe("contentHash", () => {
  it("is the sha256 of the whole file, across read chunks, and of an empty file", async () => {
    const big = join(dir, "big.bin");
    const bytes = writeBytes(big, 16 * 2 ** 20 + 4099);
    expect(await contentHash(big)).toBe(sha256(bytes));
    const empty = join(dir, "empty.bin");
    writeFileSync(empty, "");
    expect(await contentHash(empty)).toBe(sha256(new Uint8Array(0)));
  });

  it("gives the same hash to the same bytes under another name and folder, another to one changed byte", async () => {
    const a = join(dir, "a.safetensors");
    writeBytes(a, 5000, 7);
    mkdirSync(join(dir, "elsewhere"), { recursive: true });
    const b = join(dir, "elsewhere", "renamed copy.safetensors");
    copyFileSync(a, b);
    expect(await contentHash(b)).toBe(await contentHash(a));
    const c = join(dir, "c.safetensors");
    copyFileSync(a, c);
    pokeByte(c, 4321, readFileSync(a)[4321]! ^ 1, 1_600_000_000);
    expect(await contentHash(c)).not.toBe(await contentHash(a));
  });

  it("reads a file once: later calls, also through a symlink, find the memo by the file's identity", async () => {
    const path = join(dir, "memo.bin");
    const bytes = writeBytes(path, 70_000, 3);
    const before = contentHashReads();
    const [x, y] = await Promise.all([contentHash(path), contentHash(path)]); // concurrent callers share one read
    expect(contentHashReads()).toBe(before + 1);
    expect(await contentHash(path)).toBe(x);
    expect(knownContentHash(path)).toBe(x);
    symlinkSync(path, join(dir, "memo-link.bin"));
    expect(await contentHash(join(dir, "memo-link.bin"))).toBe(x);
    expect(y).toBe(sha256(bytes));
    expect(contentHashReads()).toBe(before + 1);
    // the memo lives on disk in the cache root: without it the file is read again
    rmSync(join(dir, "cache", "content-hash"), { recursive: true });
    expect(knownContentHash(path)).toBeUndefined();
    expect(await contentHash(path)).toBe(x);
    expect(contentHashReads()).toBe(before + 2);
    expect(readdirSync(join(dir, "cache", "content-hash")).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("hashes again a file modified in place (same size and inode, new mtime) or replaced by another file", async () => {
    const path = join(dir, "in-place.bin");
    writeBytes(path, 9000, 5);
    utimesSync(path, 1_600_000_000, 1_600_000_000);
    const first = await contentHash(path);
    const reads = contentHashReads();
    const ino = statSync(path).ino;
    pokeByte(path, 10, 0, 1_600_000_001);
    expect(statSync(path).ino).toBe(ino);
    expect(knownContentHash(path)).toBeUndefined();
    const second = await contentHash(path);
    expect(second).toBe(sha256(readFileSync(path)));
    expect(second).not.toBe(first);
    expect(contentHashReads()).toBe(reads + 1);
    // another file renamed over it: new inode, same size and mtime
    const other = join(dir, "other.bin");
    writeBytes(other, 9000, 6);
    utimesSync(other, 1_600_000_001, 1_600_000_001);
    renameSync(other, path);
    expect(await contentHash(path)).toBe(sha256(readFileSync(path)));
    expect(contentHashReads()).toBe(reads + 2);
  });
});
