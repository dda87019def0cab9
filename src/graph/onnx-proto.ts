// The subset of onnx.proto we write, as plain objects, and their wire encoding.
// Field numbers are those of onnx/onnx.proto (ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto,
// AttributeProto, TypeProto, TensorShapeProto, OperatorSetIdProto, StringStringEntryProto).
import type { DType } from "../tensor/tensor.js";
import { ProtoWriter } from "./protobuf.js";

/** TensorProto.DataType numbers. */
export const ONNX_DTYPE: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int16: 5,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  bfloat16: 16,
};

export type Dim = number | string;

export interface ValueInfo {
  name: string;
  dtype: DType;
  /** undefined → rank unknown; string entries are symbolic dims. */
  dims?: readonly Dim[];
}

export interface ExternalLocation {
  location: string;
  offset: number;
  length: number;
}

export interface TensorProtoData {
  name: string;
  dtype: DType;
  dims: readonly number[];
  raw?: Uint8Array;
  external?: ExternalLocation;
}

export type AttrValue =
  | { type: "float"; value: number }
  | { type: "int"; value: number }
  | { type: "string"; value: string }
  | { type: "tensor"; value: TensorProtoData }
  | { type: "floats"; value: readonly number[] }
  | { type: "ints"; value: readonly number[] };

export interface NodeData {
  name: string;
  opType: string;
  domain: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attrs: Readonly<Record<string, AttrValue>>;
}

export interface GraphData {
  name: string;
  nodes: readonly NodeData[];
  initializers: readonly TensorProtoData[];
  inputs: readonly ValueInfo[];
  outputs: readonly ValueInfo[];
}

export interface ModelData {
  irVersion: number;
  opsets: readonly { domain: string; version: number }[];
  producerName: string;
  graph: GraphData;
}

const ATTR_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 } as const;

export function encodeTensor(t: TensorProtoData): Uint8Array {
  const w = new ProtoWriter();
  if (t.dims.length > 0) w.packedInts(1, t.dims); // dims
  w.int(2, ONNX_DTYPE[t.dtype]); // data_type
  w.string(8, t.name); // name
  if (t.raw !== undefined) w.bytes(9, t.raw); // raw_data
  if (t.external !== undefined) {
    const entries: [string, string][] = [
      ["location", t.external.location],
      ["offset", String(t.external.offset)],
      ["length", String(t.external.length)],
    ];
    for (const [k, v] of entries) w.message(13, new ProtoWriter().string(1, k).string(2, v).finish()); // external_data
    w.int(14, 1); // data_location = EXTERNAL
  }
  return w.finish();
}

function encodeValueInfo(v: ValueInfo): Uint8Array {
  const tensorType = new ProtoWriter().int(1, ONNX_DTYPE[v.dtype]); // elem_type
  if (v.dims !== undefined) {
    const shape = new ProtoWriter();
    for (const d of v.dims) {
      const dim = new ProtoWriter();
      if (typeof d === "number") dim.int(1, d); // dim_value
      else dim.string(2, d); // dim_param
      shape.message(1, dim.finish());
    }
    tensorType.message(2, shape.finish()); // shape
  }
  const type = new ProtoWriter().message(1, tensorType.finish()); // TypeProto.tensor_type
  return new ProtoWriter().string(1, v.name).message(2, type.finish()).finish();
}

function encodeAttr(name: string, a: AttrValue): Uint8Array {
  const w = new ProtoWriter().string(1, name);
  switch (a.type) {
    case "float":
      w.float(2, a.value);
      break;
    case "int":
      w.int(3, a.value);
      break;
    case "string":
      w.string(4, a.value);
      break;
    case "tensor":
      w.message(5, encodeTensor(a.value));
      break;
    case "floats":
      w.packedFloats(7, a.value);
      break;
    case "ints":
      w.packedInts(8, a.value);
      break;
  }
  w.int(20, ATTR_TYPE[a.type]);
  return w.finish();
}

function encodeNode(n: NodeData): Uint8Array {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name).string(4, n.opType);
  for (const [k, v] of Object.entries(n.attrs)) w.message(5, encodeAttr(k, v));
  if (n.domain !== "") w.string(7, n.domain);
  return w.finish();
}

function encodeGraph(g: GraphData): Uint8Array {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(1, encodeNode(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, encodeTensor(t));
  for (const v of g.inputs) w.message(11, encodeValueInfo(v));
  for (const v of g.outputs) w.message(12, encodeValueInfo(v));
  return w.finish();
}

export function encodeModel(m: ModelData): Uint8Array {
  const w = new ProtoWriter().int(1, m.irVersion).string(2, m.producerName);
  w.message(7, encodeGraph(m.graph));
  for (const o of m.opsets) w.message(8, new ProtoWriter().string(1, o.domain).int(2, o.version).finish());
  return w.finish();
}
