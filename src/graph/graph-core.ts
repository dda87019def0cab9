// The ONNX graph builder core: named values, nodes, constants, weights and serialisation.
// Weights that live in a file become external-data initializers pointing into that file (never read into JS);
// weights in memory become raw_data initializers. float16 / bfloat16 weights keep their dtype and are Cast
// to float32 inside the graph, so every `weight()` value is float32. When file-backed 16-bit weights exist,
// `BuiltGraph.widened()` gives the same graph reading them as float32 from sidecar files instead (widen.ts), and
// `BuiltGraph.halved()` the same graph computing in float16 for GPU providers (halve.ts).
import type { WeightRef } from "../checkpoint/weights.js";
import { toBytes, type DType, type Tensor } from "../tensor/tensor.js";
import { encodeModel, type AttrValue, type Dim, type NodeData, type TensorProtoData, type ValueInfo } from "./onnx-proto.js";
import { halveGraph } from "./halve.js";
import { widenGraph, type Float32Sidecar, type HalfWeight } from "./widen.js";

export interface Value {
  readonly name: string;
}

/** Attribute values: integers → INT, other numbers → FLOAT, arrays of integers → INTS; wrap to force a type. */
export type Attr = number | string | readonly number[] | Tensor | AttrValue;
export type Attrs = Readonly<Record<string, Attr | undefined>>;

/** Attribute names that are FLOAT even when given an integral value (epsilon: 1, alpha: 1 …). */
const FLOAT_ATTRS = new Set(["epsilon", "alpha", "beta", "gamma", "lambd", "bias", "extrapolation_value", "cubic_coeff_a", "value_float"]);

export interface ExternalFile {
  /** Name the model refers to (relative to the model's directory). */
  readonly location: string;
  /** The checkpoint file on disk. */
  readonly path: string;
}

export interface BuiltGraph {
  readonly bytes: Uint8Array;
  readonly externalFiles: readonly ExternalFile[];
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  /** float32 files the runtime writes from checkpoints before loading (only in a `widened()` graph). */
  readonly sidecars?: readonly Float32Sidecar[];
  /**
   * The same graph with every file-backed float16/bfloat16 weight declared as float32 external data in a sidecar
   * (no Cast nodes); absent when the graph has no such weight.
   */
  readonly widened?: () => BuiltGraph;
  /**
   * The same graph computing in float16 (halve.ts): 16-bit file weights used as stored or Cast to float16, constants
   * converted, float32 inputs/outputs Cast at the edges so callers still feed and read float32. For GPU providers.
   */
  readonly halved?: () => BuiltGraph;
}

export interface OpOptions {
  /** Node name (defaults to the op type); made unique. */
  name?: string;
  domain?: string;
}

export const IR_VERSION = 8;
export const OPSET = 17;
export const MS_DOMAIN = "com.microsoft";

export class GraphCore {
  private readonly nodes: NodeData[] = [];
  private readonly initializers: TensorProtoData[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly used = new Set<string>();
  private readonly files = new Map<string, ExternalFile>();
  private readonly weightCache = new Map<string | Tensor, Value>();
  private readonly constCache = new Map<string, Value>();
  private readonly halves: HalfWeight[] = [];
  private usesMsDomain = false;

  constructor(readonly name = "vellum") {}

  /** A fresh value name based on `base`. */
  unique(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  input(name: string, dtype: DType, dims: readonly Dim[]): Value {
    if (this.used.has(name)) throw new Error(`graph: input name ${name} already used`);
    this.used.add(name);
    this.inputs.push({ name, dtype, dims });
    return { name };
  }

  /** Declares a graph output named `name` (an Identity is added when the value has another name). */
  output(value: Value, name: string, dtype: DType = "float32", dims?: readonly Dim[]): void {
    let v = value;
    if (value.name !== name) {
      if (this.used.has(name)) throw new Error(`graph: output name ${name} already used`);
      this.used.add(name);
      this.nodes.push({ name: `${name}/identity`, opType: "Identity", domain: "", inputs: [value.name], outputs: [name], attrs: {} });
      v = { name };
    }
    this.outputs.push({ name: v.name, dtype, ...(dims !== undefined && { dims }) });
  }

  /** Adds a node with `outputs` results. An input of `undefined` is an omitted optional input (""). */
  opN(type: string, inputs: readonly (Value | undefined)[], attrs: Attrs, outputs: number, opts: OpOptions = {}): Value[] {
    const name = this.unique(opts.name ?? type);
    const outs = Array.from({ length: outputs }, (_, i) => (outputs === 1 && !this.used.has(`${name}:0`) ? `${name}:0` : this.unique(`${name}:${i}`)));
    if (outputs === 1) this.used.add(outs[0]!);
    const domain = opts.domain ?? "";
    if (domain === MS_DOMAIN) this.usesMsDomain = true;
    const encoded: Record<string, AttrValue> = {};
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined) encoded[k] = toAttr(k, v);
    this.nodes.push({ name, opType: type, domain, inputs: inputs.map((i) => i?.name ?? ""), outputs: outs, attrs: encoded });
    return outs.map((n) => ({ name: n }));
  }

  op(type: string, inputs: readonly (Value | undefined)[], attrs: Attrs = {}, opts: OpOptions = {}): Value {
    return this.opN(type, inputs, attrs, 1, opts)[0]!;
  }

  /** A constant initializer holding `t` (small constants with equal contents are shared). */
  constant(t: Tensor, name?: string): Value {
    const small = t.data.length <= 16 && name === undefined;
    const key = small ? `${t.dtype}[${t.shape.join(",")}]${Array.from(t.data as ArrayLike<number | bigint>, String).join(",")}` : "";
    if (small) {
      const hit = this.constCache.get(key);
      if (hit) return hit;
    }
    const n = this.unique(name ?? "const");
    this.initializers.push({ name: n, dtype: t.dtype, dims: t.shape, raw: toBytes(t).slice() });
    const v = { name: n };
    if (small) this.constCache.set(key, v);
    return v;
  }

  /** A weight as a float32 value: external data for file refs, raw data for memory refs; 16-bit floats are Cast. */
  weight(ref: WeightRef): Value {
    const key = ref.bytes.kind === "memory" ? ref.bytes.tensor : `${ref.bytes.path}\0${ref.bytes.offset}\0${ref.bytes.byteLength}\0${ref.dtype}\0${ref.shape.join(",")}`;
    const hit = this.weightCache.get(key);
    if (hit) return hit;
    const { init, value } = this.initializerFor(ref);
    let v: Value = value;
    if (ref.dtype !== "float32") {
      v = this.op("Cast", [v], { to: ONNX_FLOAT }, { name: `${ref.name}/cast` });
      if (ref.bytes.kind === "file" && (ref.dtype === "float16" || ref.dtype === "bfloat16")) {
        this.halves.push({ init, cast: this.nodes[this.nodes.length - 1]!, value: v.name, path: ref.bytes.path });
      }
    }
    this.weightCache.set(key, v);
    return v;
  }

  /**
   * A weight in the precision its file stores it (no Cast, never widened into a sidecar): for lookups such as a token
   * embedding table, where gathering the rows first and widening only those is exact and keeps the table 16-bit.
   */
  storedWeight(ref: WeightRef): { value: Value; dtype: DType } {
    return { value: this.initializerFor(ref).value, dtype: ref.dtype };
  }

  private initializerFor(ref: WeightRef): { init: TensorProtoData; value: Value } {
    const name = this.unique(ref.name);
    let init: TensorProtoData;
    if (ref.bytes.kind === "file") {
      const file = this.fileFor(ref.bytes.path);
      const external = { location: file.location, offset: ref.bytes.offset, length: ref.bytes.byteLength };
      init = { name, dtype: ref.dtype, dims: ref.shape, external };
    } else {
      init = { name, dtype: ref.dtype, dims: ref.shape, raw: toBytes(ref.bytes.tensor).slice() };
    }
    this.initializers.push(init);
    return { init, value: { name } };
  }

  private fileFor(path: string): ExternalFile {
    let f = this.files.get(path);
    if (f === undefined) {
      // neutral names, so the graph bytes (and the model cache key) do not depend on what the user called the file
      f = { location: `w${this.files.size}.safetensors`, path };
      this.files.set(path, f);
    }
    return f;
  }

  build(): BuiltGraph {
    if (this.outputs.length === 0) throw new Error("graph: no outputs declared");
    const opsets = [{ domain: "", version: OPSET }, ...(this.usesMsDomain ? [{ domain: MS_DOMAIN, version: 1 }] : [])];
    const bytes = encodeModel({
      irVersion: IR_VERSION,
      opsets,
      producerName: "vellum",
      graph: { name: this.name, nodes: this.nodes, initializers: this.initializers, inputs: this.inputs, outputs: this.outputs },
    });
    const inputs = [...this.inputs];
    const outputs = [...this.outputs];
    const files = [...this.files.values()];
    const parts = { name: this.name, irVersion: IR_VERSION, opsets, nodes: [...this.nodes], initializers: [...this.initializers], inputs, outputs, files, halves: [...this.halves] };
    const halved = (): BuiltGraph => ({ ...halveGraph(parts), inputs, outputs });
    if (this.halves.length === 0) return { bytes, externalFiles: files, inputs, outputs, halved };
    return {
      bytes,
      externalFiles: files,
      inputs,
      outputs,
      widened: () => ({ ...widenGraph(parts), inputs, outputs }),
      halved,
    };
  }
}

/** TensorProto.DataType FLOAT, for Cast `to`. */
export const ONNX_FLOAT = 1;

function toAttr(name: string, v: Attr): AttrValue {
  if (typeof v === "number") {
    return Number.isInteger(v) && !FLOAT_ATTRS.has(name) ? { type: "int", value: v } : { type: "float", value: v };
  }
  if (typeof v === "string") return { type: "string", value: v };
  if (Array.isArray(v)) {
    const arr = v as readonly number[];
    return arr.every(Number.isInteger) && name !== "scales" ? { type: "ints", value: arr } : { type: "floats", value: arr };
  }
  if ("dtype" in (v as object)) {
    const t = v as Tensor;
    return { type: "tensor", value: { name: "", dtype: t.dtype, dims: t.shape, raw: toBytes(t).slice() } };
  }
  return v as AttrValue;
}
