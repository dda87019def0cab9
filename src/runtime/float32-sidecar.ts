// Writes a float32 sidecar (graph/widen.ts) from its checkpoint: one tensor at a time is read and widened into one of
// two 16 MiB blocks written front to back (direct I/O where the filesystem allows), so memory holds one 16-bit tensor
// and two blocks, never the file. Written under a temporary name and published by rename, so a crash or a concurrent
// writer never leaves a half file in place.
import { existsSync, statSync } from "node:fs";
import { constants, type FileHandle, open, rename, rm } from "node:fs/promises";
import type { Float32Sidecar, SidecarTensor } from "../graph/index.js";
import { halfToFloat } from "../tensor/tensor.js";

let halfTable: Float32Array | undefined;

/** float16 bits → float32 value for all 65536 patterns (256 KiB, built once). */
function halfToFloatTable(): Float32Array {
  if (halfTable === undefined) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = halfToFloat(h);
  }
  return halfTable;
}

/** Widens `n` 16-bit values of `src` into `dst` (float32 bit patterns). */
export function widen(dtype: SidecarTensor["dtype"], src: Uint16Array, dst: Float32Array, n = src.length): void {
  if (dtype === "bfloat16") {
    const bits = new Uint32Array(dst.buffer, dst.byteOffset, n);
    for (let i = 0; i < n; i++) bits[i] = src[i]! << 16;
    return;
  }
  const table = halfToFloatTable();
  for (let i = 0; i < n; i++) dst[i] = table[src[i]!]!;
}

/** True when `path` already holds the sidecar (the file is only ever published complete). */
export function sidecarPresent(car: Float32Sidecar, path: string): boolean {
  return existsSync(path) && statSync(path).size === car.byteLength;
}

/**
 * Writes `car` to `path` from its checkpoint unless it is already there. Asynchronous file I/O (a full-size UNet is
 * ≈ 3.4 GB to write), so the event loop keeps serving while a new checkpoint loads.
 */
export function writeSidecar(car: Float32Sidecar, path: string): Promise<void> {
  if (sidecarPresent(car, path)) return Promise.resolve();
  // sessions of one model opening together in this process share one write
  let pending = writing.get(path);
  if (pending === undefined) {
    pending = write(car, path).finally(() => writing.delete(path));
    writing.set(path, pending);
  }
  return pending;
}

const writing = new Map<string, Promise<void>>();

/**
 * Staging block of the writer: 16 MiB, a multiple of every block size O_DIRECT asks for. Its memory comes from a
 * WebAssembly.Memory, the one JS allocation that is page-aligned, as O_DIRECT requires of the buffer address.
 */
const BLOCK = 16 * 2 ** 20;

// (Node's own typings declare WebAssembly's types but not the global value)
const wasm = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } } }).WebAssembly;

function alignedBlock(): Uint8Array {
  return new Uint8Array(new wasm.Memory({ initial: BLOCK / 65536 }).buffer);
}

/**
 * Opens the temporary file for writing, bypassing the page cache (O_DIRECT) where the filesystem allows it: on some
 * disks buffered writes of gigabytes are throttled to a fraction of the device's speed (measured in
 * docs/performance.md: 155–330 MB/s buffered, 1.9 GB/s direct), and nothing is read back through the cache anyway
 * before ONNX Runtime loads the file.
 */
async function openOutput(tmp: string): Promise<{ file: FileHandle; direct: boolean }> {
  const direct = constants.O_DIRECT;
  if (direct !== undefined && process.env["VELLUM_DIRECT_IO"] !== "0") {
    try {
      return { file: await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | direct), direct: true };
    } catch {
      // EINVAL: the filesystem refuses O_DIRECT (tmpfs, some network filesystems); write through the cache
    }
  }
  return { file: await open(tmp, "w"), direct: false };
}

/** Reads `length` bytes at `position` (through the page cache, so they are cached afterwards). */
async function readRange(file: FileHandle, buffer: Uint8Array, position: number, length: number): Promise<void> {
  for (let got = 0; got < length; ) {
    const { bytesRead } = await file.read(buffer, 0, Math.min(buffer.length, length - got), position + got);
    if (bytesRead === 0) return;
    got += bytesRead;
  }
}

async function writeAll(file: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let put = 0;
  while (put < bytes.length) put += (await file.write(bytes, put, bytes.length - put, position + put)).bytesWritten;
}

/**
 * Fills the sidecar front to back through two aligned blocks: while one block is being written, the next tensors
 * are widened straight into the other (no intermediate float32 copy). Gaps between tensors are zero.
 * With direct I/O, each block is read back once through the page cache as soon as it is written, while the next ones
 * are widened, so the file is cached when ONNX Runtime loads it tensor by tensor: measured on an SD1.5 UNet sidecar,
 * ONNX Runtime's own reads of the cold, just-written file took ≈ 15 s longer than from the cache; a sequential pass
 * after the write took ≈ 4 s (docs/performance.md).
 */
async function write(car: Float32Sidecar, path: string): Promise<void> {
  const largest = car.tensors.reduce((m, t) => Math.max(m, t.byteLength), 0);
  const inBuf = new Uint8Array(largest + (largest % 2));
  const blocks = [alignedBlock(), alignedBlock()];
  const inFlight: (Promise<void> | undefined)[] = [undefined, undefined];
  const tmp = `${path}.${process.pid}.tmp`;
  const src = await open(car.source, "r");
  try {
    const { file: dst, direct } = await openOutput(tmp);
    const back = direct ? await open(tmp, "r") : undefined;
    const scratch = new Uint8Array(direct ? BLOCK : 0);
    let readBack: Promise<void> = Promise.resolve();
    try {
      let current = 0; // index of the block being filled
      let blockStart = 0; // file offset of that block
      const flush = async (length: number): Promise<void> => {
        const block = blocks[current]!;
        // O_DIRECT writes whole 4 KiB sectors; the file is truncated to its size at the end
        const size = direct ? Math.ceil(length / 4096) * 4096 : length;
        block.fill(0, length, size);
        const written = writeAll(dst, block.subarray(0, size), blockStart);
        inFlight[current] = written;
        if (back !== undefined) {
          const start = blockStart;
          readBack = Promise.all([readBack, written]).then(() => readRange(back, scratch, start, length));
        }
        current ^= 1;
        blockStart += BLOCK;
        await inFlight[current];
        blocks[current]!.fill(0);
      };
      const tensors = [...car.tensors].sort((a, b) => a.targetOffset - b.targetOffset);
      for (const t of tensors) {
        let got = 0;
        while (got < t.byteLength) {
          const { bytesRead } = await src.read(inBuf, got, t.byteLength - got, t.offset + got);
          if (bytesRead === 0) throw new Error(`runtime: ${car.source} ends inside a tensor (offset ${t.offset}, ${t.byteLength} bytes)`);
          got += bytesRead;
        }
        const values = new Uint16Array(inBuf.buffer, 0, t.byteLength / 2);
        let done = 0; // values widened so far
        while (done < values.length) {
          const at = t.targetOffset + done * 4;
          while (at >= blockStart + BLOCK) await flush(BLOCK);
          const n = Math.min(values.length - done, (blockStart + BLOCK - at) / 4);
          const block = blocks[current]!;
          widen(t.dtype, values.subarray(done, done + n), new Float32Array(block.buffer, at - blockStart, n), n);
          done += n;
        }
      }
      await flush(car.byteLength - blockStart);
      await Promise.all([...inFlight, readBack]);
      if (direct) await dst.truncate(car.byteLength);
    } finally {
      await readBack.catch(() => undefined);
      await Promise.all([dst.close(), back?.close()]);
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  } finally {
    await src.close();
  }
}
