// Writes a random-weight single-file checkpoint for benchmarks and the demo model, streaming tensor by tensor
// (never the whole file in memory). Weights ~ N(0, std²); normalisation weights 1 + N(0, std²). Deterministic.
import { closeSync, openSync, writeSync } from "node:fs";
import { floatToHalf } from "../tensor/tensor.js";

export interface RandomCheckpointOptions {
  readonly dtype: "float16" | "float32";
  readonly seed: number;
  readonly std?: number;
  readonly metadata?: Record<string, string>;
}

/** mulberry32: small, seedable, good enough for random weights. */
function uniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Normalisation scales, in LDM names too (`in_layers.0`, `out_layers.0`, `out.0` are GroupNorms). */
const isNormWeight = (name: string): boolean =>
  /(norm|ln_)[^.]*\.weight$/.test(name) || /\.(in_layers|out_layers)\.0\.weight$/.test(name) || name === "model.diffusion_model.out.0.weight";

const CHUNK = 1 << 20; // elements per write

export function writeRandomCheckpoint(path: string, layout: ReadonlyMap<string, readonly number[]>, opts: RandomCheckpointOptions): { bytes: number; tensors: number } {
  const bytesPer = opts.dtype === "float16" ? 2 : 4;
  const fileDtype = opts.dtype === "float16" ? "F16" : "F32";
  const header: Record<string, unknown> = {};
  if (opts.metadata) header["__metadata__"] = opts.metadata;
  let offset = 0;
  for (const [name, shape] of layout) {
    const n = shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype: fileDtype, shape, data_offsets: [offset, offset + n * bytesPer] };
    offset += n * bytesPer;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const fd = openSync(path, "w");
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
    writeSync(fd, len);
    writeSync(fd, Buffer.from(json, "utf-8"));
    const rand = uniform(opts.seed);
    const std = opts.std ?? 0.05;
    const buf = Buffer.alloc(CHUNK * bytesPer);
    for (const [name, shape] of layout) {
      const n = shape.reduce((a, b) => a * b, 1);
      const mean = isNormWeight(name) ? 1 : 0;
      for (let done = 0; done < n; done += CHUNK) {
        const m = Math.min(CHUNK, n - done);
        for (let i = 0; i < m; i++) {
          const g = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()); // Box–Muller
          const v = mean + std * g;
          if (bytesPer === 2) buf.writeUInt16LE(floatToHalf(v), i * 2);
          else buf.writeFloatLE(v, i * 4);
        }
        writeSync(fd, buf, 0, m * bytesPer);
      }
    }
  } finally {
    closeSync(fd);
  }
  return { bytes: 8 + Buffer.byteLength(json) + offset, tensors: layout.size };
}
