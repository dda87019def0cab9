// ONNX Runtime writes a saved optimised model's weights (3.4 GB for an SD1.5 UNet) through an ordinary buffered
// stream. On disks where buffered writes of gigabytes are throttled (this kind of machine: 155–330 MB/s buffered,
// 1.9 GB/s with direct I/O; docs/performance.md) that one write cost most of a first load. So the weights file is
// first created as a named pipe: a worker thread drains it while ONNX Runtime saves, writing the bytes with direct I/O
// to a temporary file that replaces the pipe once the save is done. Anything unusual (no mkfifo, no O_DIRECT, not
// Linux) falls back to letting ONNX Runtime write the file itself.
import { execFileSync } from "node:child_process";
import { constants, lstatSync, openSync, closeSync, renameSync, rmSync } from "node:fs";
import { Worker } from "node:worker_threads";

/** Worker body (plain CommonJS, so it runs the same under tsx, vitest and the built dist). */
const DRAIN = `
const { workerData, parentPort } = require("node:worker_threads");
const fs = require("node:fs");
const BLOCK = 16 * 2 ** 20;
const block = new Uint8Array(new WebAssembly.Memory({ initial: BLOCK / 65536 }).buffer); // page-aligned, as O_DIRECT needs
let out;
try {
  const pipe = fs.openSync(workerData.pipe, "r");
  parentPort.postMessage({ opened: true });
  let direct = true;
  try {
    out = fs.openSync(workerData.out, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_DIRECT);
  } catch {
    direct = false;
    out = fs.openSync(workerData.out, "w");
  }
  let total = 0;
  let fill = 0;
  const flush = (length) => {
    const size = direct ? Math.ceil(length / 4096) * 4096 : length;
    block.fill(0, length, size);
    let put = 0;
    while (put < size) put += fs.writeSync(out, block, put, size - put, total - fill + put);
    fill = 0;
  };
  for (;;) {
    const n = fs.readSync(pipe, block, fill, BLOCK - fill, null);
    if (n === 0) break;
    fill += n;
    total += n;
    if (fill === BLOCK) flush(BLOCK);
  }
  if (fill > 0) flush(fill);
  fs.closeSync(pipe);
  fs.ftruncateSync(out, total);
  fs.closeSync(out);
  parentPort.postMessage({ bytes: total, direct });
} catch (e) {
  if (out !== undefined) fs.closeSync(out);
  parentPort.postMessage({ error: String(e && e.message ? e.message : e) });
}
`;

interface Drained {
  readonly opened?: boolean;
  readonly bytes?: number;
  readonly direct?: boolean;
  readonly error?: string;
}

function isPipe(path: string): boolean {
  try {
    return lstatSync(path).isFIFO();
  } catch {
    return false;
  }
}

function directIoPossible(): boolean {
  return process.platform === "linux" && constants.O_DIRECT !== undefined && process.env["VELLUM_DIRECT_IO"] !== "0";
}

/**
 * Runs `save` (which makes ONNX Runtime write `weightsPath`) with that file's bytes going through direct I/O.
 * Resolves with `save`'s result once `weightsPath` is a complete regular file; on failure nothing is left behind.
 */
export async function withDirectWeightsWrite<T>(weightsPath: string, save: () => Promise<T>): Promise<T> {
  if (!directIoPossible()) return save();
  rmSync(weightsPath, { force: true });
  try {
    execFileSync("mkfifo", ["-m", "600", weightsPath], { stdio: "ignore" });
  } catch {
    return save();
  }
  // This thread holds the pipe open (read-write: never blocks on Linux) from before ONNX Runtime opens it until the
  // worker has opened its end, so neither side waits for the other and bytes written early stay in the pipe.
  const hold = openSync(weightsPath, constants.O_RDWR);
  const tmp = `${weightsPath}.${process.pid}.tmp`;
  const worker = new Worker(DRAIN, { eval: true, workerData: { pipe: weightsPath, out: tmp } });
  let opened!: () => void;
  const isOpen = new Promise<void>((resolve) => (opened = resolve));
  const drained = new Promise<Drained>((resolve) => {
    worker.on("message", (m: Drained) => (m.opened === true ? opened() : resolve(m)));
    worker.once("error", (e) => resolve({ error: e.message }));
    worker.once("exit", () => resolve({ error: "the drain worker exited early" }));
  });
  let result: T | undefined;
  let failure: unknown;
  // The worker opens its end before ONNX Runtime starts: with small models ONNX Runtime was seen to remove the file
  // name before a late worker opened it.
  await Promise.race([isOpen, drained]);
  try {
    result = await save();
  } catch (e) {
    failure = e ?? new Error("save failed");
  }
  // the worker reads to end-of-file once every writer (ONNX Runtime, then this thread) has closed the pipe
  closeSync(hold);
  const done = await drained;
  await worker.terminate();
  if (isPipe(weightsPath)) rmSync(weightsPath);
  if (failure !== undefined || done.error !== undefined) {
    rmSync(tmp, { force: true });
    if (failure !== undefined) throw failure;
    throw new Error(`runtime: writing the optimised model's weights failed: ${done.error}`);
  }
  renameSync(tmp, weightsPath);
  return result as T;
}
