// Writes a float32 sidecar (graph/widen.ts) from its checkpoint: one tensor at a time is read, widened and
// written at its offset, so memory holds at most one tensor in each width, never the file. Written under a
// temporary name and published by rename, so a crash or a concurrent writer never leaves a half file in place.
import { existsSync, statSync } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
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

async function write(car: Float32Sidecar, path: string): Promise<void> {
  const largest = car.tensors.reduce((m, t) => Math.max(m, t.byteLength), 0);
  const inBuf = new Uint8Array(largest + (largest % 2));
  const outBuf = new Float32Array(Math.ceil(largest / 2));
  const tmp = `${path}.${process.pid}.tmp`;
  const src = await open(car.source, "r");
  try {
    const dst = await open(tmp, "w");
    try {
      await dst.truncate(car.byteLength);
      for (const t of car.tensors) {
        let got = 0;
        while (got < t.byteLength) {
          const { bytesRead } = await src.read(inBuf, got, t.byteLength - got, t.offset + got);
          if (bytesRead === 0) throw new Error(`runtime: ${car.source} ends inside a tensor (offset ${t.offset}, ${t.byteLength} bytes)`);
          got += bytesRead;
        }
        const count = t.byteLength / 2;
        widen(t.dtype, new Uint16Array(inBuf.buffer, 0, count), outBuf, count);
        const bytes = new Uint8Array(outBuf.buffer, 0, count * 4);
        let put = 0;
        while (put < bytes.length) put += (await dst.write(bytes, put, bytes.length - put, t.targetOffset + put)).bytesWritten;
      }
    } finally {
      await dst.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  } finally {
    await src.close();
  }
}
