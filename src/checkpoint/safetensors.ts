// safetensors container: u64 little-endian header length, a JSON header, then raw little-endian tensor bytes.
// Opening a file reads the header only; each tensor is read from disk when asked for, so a 7 GB checkpoint
// never passes through JS memory as a whole. Knows nothing about Stable Diffusion.
import { closeSync, fstatSync, openSync, readSync, writeFileSync } from "node:fs";
import { BYTES_PER_ELEMENT, fromBytes, numel, toBytes, type DType, type Tensor } from "../tensor/tensor.js";

/** safetensors dtype names ↔ ours. */
const DTYPES: Record<string, DType> = {
  F32: "float32",
  F16: "float16",
  BF16: "bfloat16",
  F64: "float64",
  I8: "int8",
  U8: "uint8",
  I16: "int16",
  I32: "int32",
  I64: "int64",
  BOOL: "bool",
};
const NAMES = Object.fromEntries(Object.entries(DTYPES).map(([k, v]) => [v, k])) as Record<DType, string>;

/** Largest header we accept (the format's own reference implementation uses 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

export class SafetensorsError extends Error {
  override readonly name = "SafetensorsError";
}

export interface TensorInfo {
  readonly name: string;
  readonly dtype: DType;
  /** The dtype string as written in the file (`F16`, `BF16`, …). */
  readonly fileDtype: string;
  readonly shape: readonly number[];
  /** Absolute byte offset of the tensor's data in the file. */
  readonly offset: number;
  readonly byteLength: number;
}

export interface SafetensorsHeader {
  readonly headerLength: number;
  /** Absolute offset where the data section starts (8 + headerLength). */
  readonly dataOffset: number;
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * Parses a header from the file's first bytes. `prefix` must hold at least 8 + header length bytes
 * (or the whole file); `fileSize` is the file's full size, used to check that every tensor fits.
 */
export function parseHeader(prefix: Uint8Array, fileSize: number, source = "safetensors file"): SafetensorsHeader {
  if (fileSize < 8 || prefix.byteLength < 8) {
    throw new SafetensorsError(`${source}: truncated (${fileSize} bytes; a safetensors file starts with an 8-byte header length)`);
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  const big = view.getBigUint64(0, true);
  if (big > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(`${source}: bad header length ${big} (limit ${MAX_HEADER_BYTES}); not a safetensors file?`);
  }
  const headerLength = Number(big);
  if (8 + headerLength > fileSize) {
    throw new SafetensorsError(`${source}: header length ${headerLength} runs past the end of the file (${fileSize} bytes): truncated?`);
  }
  if (prefix.byteLength < 8 + headerLength) {
    throw new SafetensorsError(`${source}: need ${8 + headerLength} bytes to read the header, got ${prefix.byteLength}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(prefix.subarray(8, 8 + headerLength)));
  } catch (e) {
    throw new SafetensorsError(`${source}: header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new SafetensorsError(`${source}: header must be a JSON object`);
  }
  const dataOffset = 8 + headerLength;
  const dataSize = fileSize - dataOffset;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  const ranges: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (entry !== null && typeof entry === "object" && !Array.isArray(entry)) {
        metadata = Object.fromEntries(
          Object.entries(entry as Record<string, unknown>).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
        );
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (e === null || typeof e !== "object") throw new SafetensorsError(`${source}: tensor ${name}: entry is not an object`);
    const fileDtype = e.dtype;
    if (typeof fileDtype !== "string") throw new SafetensorsError(`${source}: tensor ${name}: missing dtype`);
    const dtype = DTYPES[fileDtype];
    if (dtype === undefined) {
      throw new SafetensorsError(`${source}: tensor ${name}: unknown dtype ${JSON.stringify(fileDtype)} (supported: ${Object.keys(DTYPES).join(", ")})`);
    }
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(`${source}: tensor ${name}: bad shape ${JSON.stringify(shape)}`);
    }
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new SafetensorsError(`${source}: tensor ${name}: bad data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) throw new SafetensorsError(`${source}: tensor ${name}: data_offsets end ${end} < begin ${begin}`);
    if (end > dataSize) {
      throw new SafetensorsError(`${source}: tensor ${name}: data_offsets [${begin}, ${end}] out of range (data section is ${dataSize} bytes): truncated?`);
    }
    const expected = numel(shape as number[]) * BYTES_PER_ELEMENT[dtype];
    if (end - begin !== expected) {
      throw new SafetensorsError(`${source}: tensor ${name}: ${end - begin} bytes for shape [${shape.join(", ")}] ${fileDtype} (${expected} expected)`);
    }
    tensors.set(name, { name, dtype, fileDtype, shape: shape as number[], offset: dataOffset + begin, byteLength: end - begin });
    ranges.push([begin, end, name]);
  }
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (let i = 1; i < ranges.length; i++) {
    const [pb, pe, pn] = ranges[i - 1]!;
    const [b, e, n] = ranges[i]!;
    if (b < pe && e > b && pe > pb) throw new SafetensorsError(`${source}: tensors ${pn} and ${n} overlap`);
  }
  return { headerLength, dataOffset, tensors, metadata };
}

/** An open safetensors file: header in memory, tensor data read on demand. */
export class SafetensorsFile implements SafetensorsHeader {
  readonly headerLength: number;
  readonly dataOffset: number;
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Readonly<Record<string, string>>;
  readonly fileSize: number;
  private fd: number | undefined;

  private constructor(readonly path: string, fd: number, fileSize: number, header: SafetensorsHeader) {
    this.fd = fd;
    this.fileSize = fileSize;
    this.headerLength = header.headerLength;
    this.dataOffset = header.dataOffset;
    this.tensors = header.tensors;
    this.metadata = header.metadata;
  }

  static open(path: string): SafetensorsFile {
    const fd = openSync(path, "r");
    try {
      const size = fstatSync(fd).size;
      const head = Buffer.alloc(Math.min(size, 8));
      readExactly(fd, head, 0);
      let prefix: Uint8Array = head;
      if (size >= 8) {
        const len = head.readBigUInt64LE(0);
        if (len <= BigInt(MAX_HEADER_BYTES) && 8n + len <= BigInt(size)) {
          const buf = Buffer.alloc(8 + Number(len));
          readExactly(fd, buf, 0);
          prefix = buf;
        }
      }
      return new SafetensorsFile(path, fd, size, parseHeader(prefix, size, path));
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (info === undefined) throw new SafetensorsError(`${this.path}: no tensor named ${name}`);
    return info;
  }

  /** Reads one tensor's bytes from disk (only that tensor). */
  read(name: string): Tensor {
    const info = this.info(name);
    return fromBytes(info.dtype, info.shape, this.readBytes(info.offset, info.byteLength));
  }

  readBytes(offset: number, length: number): Uint8Array {
    if (this.fd === undefined) throw new SafetensorsError(`${this.path}: file is closed`);
    const buf = Buffer.allocUnsafe(length);
    readExactly(this.fd, buf, offset);
    return new Uint8Array(buf.buffer, buf.byteOffset, length);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

function readExactly(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) {
    const n = readSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0) throw new SafetensorsError(`unexpected end of file at byte ${position + done}: truncated?`);
    done += n;
  }
}

/** Reads every tensor of a (small) file. */
export function readSafetensors(path: string): Map<string, Tensor> {
  const file = SafetensorsFile.open(path);
  try {
    return new Map(file.names().map((n) => [n, file.read(n)]));
  } finally {
    file.close();
  }
}

/** Encodes tensors as a safetensors file image. Tensors are laid out in the order given, 8-byte aligned header. */
export function encodeSafetensors(tensors: Iterable<[string, Tensor]> | Record<string, Tensor>, metadata?: Record<string, string>): Buffer {
  const entries = Symbol.iterator in tensors ? [...(tensors as Iterable<[string, Tensor]>)] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header["__metadata__"] = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    const len = t.data.byteLength;
    header[name] = { dtype: NAMES[t.dtype], shape: t.shape, data_offsets: [offset, offset + len] };
    offset += len;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, "utf-8");
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let pos = 8 + headerBytes.length;
  for (const [, t] of entries) {
    out.set(toBytes(t), pos);
    pos += t.data.byteLength;
  }
  return out;
}

export function writeSafetensors(path: string, tensors: Iterable<[string, Tensor]> | Record<string, Tensor>, metadata?: Record<string, string>): void {
  writeFileSync(path, encodeSafetensors(tensors, metadata));
}
