// Weights by canonical name, wherever their bytes live. Canonical names are the diffusers / transformers
// state-dict keys of each component (`down_blocks.0.resnets.0.conv1.weight`, `text_model.encoder.layers.0…`);
// foreign layouts (LDM single files, OpenCLIP) are mapped to them once, in checkpoint/keymap/.
// A weight either points into a file (so ONNX Runtime can read it as external data, never through JS)
// or is a tensor in memory (LoRA-merged, transposed or otherwise computed weights).
import { fromBytes, type DType, type Tensor } from "../tensor/tensor.js";
import { SafetensorsFile } from "./safetensors.js";

export interface FileBytes {
  readonly kind: "file";
  readonly path: string;
  readonly offset: number;
  readonly byteLength: number;
  /** Reads the bytes (for tools and fallbacks; the runtime prefers pointing ONNX Runtime at the file). */
  read(): Uint8Array;
}

export interface MemoryBytes {
  readonly kind: "memory";
  readonly tensor: Tensor;
}

export interface WeightRef {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly bytes: FileBytes | MemoryBytes;
}

export interface WeightSource {
  has(name: string): boolean;
  get(name: string): WeightRef;
  names(): string[];
}

/** A WeightRef over a byte range of an open safetensors file (shape may be re-stated, e.g. [C,C,1,1] → [C,C]). */
export function fileWeight(file: SafetensorsFile, key: string, name = key, shape?: readonly number[], byteRange?: { start: number; length: number }): WeightRef {
  const info = file.info(key);
  const offset = info.offset + (byteRange?.start ?? 0);
  const byteLength = byteRange?.length ?? info.byteLength;
  return {
    name,
    dtype: info.dtype,
    shape: shape ?? info.shape,
    bytes: { kind: "file", path: file.path, offset, byteLength, read: () => file.readBytes(offset, byteLength) },
  };
}

export function memoryWeight(name: string, tensor: Tensor): WeightRef {
  return { name, dtype: tensor.dtype, shape: tensor.shape, bytes: { kind: "memory", tensor } };
}

/** A WeightSource from a map of refs. */
export class WeightMap implements WeightSource {
  constructor(readonly refs: Map<string, WeightRef>, readonly label = "weights") {}
  has(name: string): boolean {
    return this.refs.has(name);
  }
  get(name: string): WeightRef {
    const ref = this.refs.get(name);
    if (ref === undefined) throw new Error(`${this.label}: missing weight ${name}`);
    return ref;
  }
  names(): string[] {
    return [...this.refs.keys()];
  }
}

/** Every tensor of a safetensors file under its own name, optionally only those under `prefix` (prefix removed). */
export function safetensorsWeights(file: SafetensorsFile, prefix = ""): WeightMap {
  const refs = new Map<string, WeightRef>();
  for (const key of file.names()) {
    if (!key.startsWith(prefix)) continue;
    const name = key.slice(prefix.length);
    refs.set(name, fileWeight(file, key, name));
  }
  return new WeightMap(refs, prefix ? `${file.path}:${prefix}` : file.path);
}

/** Reads a weight's bytes into a tensor (small weights, tools, LoRA merging). */
export function readWeight(ref: WeightRef): Tensor {
  if (ref.bytes.kind === "memory") return ref.bytes.tensor;
  return fromBytes(ref.dtype, ref.shape, ref.bytes.read());
}
