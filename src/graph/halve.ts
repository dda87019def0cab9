// The float16 variant of a built graph, for GPU execution providers: every float tensor inside the graph is float16,
// while callers still feed and read float32 (inputs are Cast to float16 where they are used, outputs Cast back).
//  - float16 file weights are used as stored: their Cast is dropped and the initializer takes the Cast's output name
//    (as widen.ts does with sidecars); bfloat16 and float32 file weights are Cast to FLOAT16 in the graph.
//  - raw float32 constants become float16 raw data. Finite values beyond float16's range are clamped to ±65504
//    (torch.finfo(float16).min/max, the additive-mask value transformers uses in half precision; CLIP's causal mask is
//    finfo(float32).min); ±Infinity and NaN stay as they are.
//  - every Cast to FLOAT becomes a Cast to FLOAT16; float32 tensor attributes (ConstantOfShape) become float16.
// Kept float32, deliberately:
//  - the sinusoidal embeddings (Sin, Cos and the float ancestors they compute from: the timestep, time_ids and the
//    frequencies). diffusers computes `get_timestep_embedding` in float32 in every precision (`timesteps.float()`) and
//    casts the result; in float16, t · f for t ≈ 999 would carry an error of up to 0.25 rad.
//  - Resize's `scales` input, which ONNX types tensor(float) whatever the data type.
import { ONNX_DTYPE, encodeModel, type NodeData, type TensorProtoData, type ValueInfo } from "./onnx-proto.js";
import { floatToHalf, type DType } from "../tensor/tensor.js";
import type { WidenInput } from "./widen.js";

/** The graph parts halveGraph reads: those of widenGraph (16-bit file weights listed in `halves`). */
export type HalveInput = WidenInput;

export interface HalvedParts {
  readonly nodes: readonly NodeData[];
  readonly initializers: readonly TensorProtoData[];
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  /** Names of the nodes left computing in float32 (the sinusoidal embeddings). */
  readonly float32Nodes: ReadonlySet<string>;
}

const FLOAT16 = ONNX_DTYPE.float16;
const FLOAT = ONNX_DTYPE.float32;
const FLOAT16_MAX = 65504;
const DTYPE_OF = new Map<number, DType>(Object.entries(ONNX_DTYPE).map(([k, v]) => [v, k as DType]));

/** Ops whose float inputs may have any float type (no conversion needed in front of them). */
const ANY_TYPE_OPS = new Set(["Cast", "Shape", "Size"]);
/** Ops whose result is int64 / bool whatever the input type. */
const INT64_OPS = new Set(["Shape", "Size", "NonZero", "ArgMax", "ArgMin"]);
const BOOL_OPS = new Set(["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "Xor", "IsNaN", "IsInf"]);

/** The element type of every value of a graph, propagated from inputs and initializers through the ops we emit. */
export function inferDtypes(nodes: readonly NodeData[], initializers: readonly TensorProtoData[], inputs: readonly ValueInfo[]): Map<string, DType> {
  const types = new Map<string, DType>();
  for (const i of inputs) types.set(i.name, i.dtype);
  for (const t of initializers) types.set(t.name, t.dtype);
  for (const n of nodes) {
    const t = nodeType(n, types);
    n.outputs.forEach((o, i) => {
      // LayerNormalization's optional Mean / InvStdDev outputs have the stash type (float32)
      if (o !== "") types.set(o, n.opType === "LayerNormalization" && i > 0 ? "float32" : t);
    });
  }
  return types;
}

function nodeType(n: NodeData, types: Map<string, DType>): DType {
  const attrType = (key: string): DType | undefined => {
    const a = n.attrs[key];
    if (a?.type === "int") return DTYPE_OF.get(a.value);
    if (a?.type === "tensor") return a.value.dtype;
    return undefined;
  };
  if (n.opType === "Cast") return attrType("to") ?? "float32";
  if (INT64_OPS.has(n.opType)) return "int64";
  if (BOOL_OPS.has(n.opType)) return "bool";
  if (n.opType === "ConstantOfShape") return attrType("value") ?? "float32";
  if (n.opType === "Constant") return attrType("value") ?? "float32";
  if (n.opType === "Where") return types.get(n.inputs[1] ?? "") ?? "float32";
  for (const i of n.inputs) {
    const t = types.get(i);
    if (i !== "" && t !== undefined) return t;
  }
  return "float32";
}

/** Sin/Cos nodes and every node they compute from through float32 values: the sinusoidal embeddings. */
function float32Island(nodes: readonly NodeData[], types: Map<string, DType>): Set<NodeData> {
  const producer = new Map<string, NodeData>();
  for (const n of nodes) for (const o of n.outputs) producer.set(o, n);
  const island = new Set<NodeData>();
  const stack = nodes.filter((n) => n.opType === "Sin" || n.opType === "Cos");
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (island.has(n)) continue;
    island.add(n);
    for (const i of n.inputs) {
      const p = producer.get(i);
      if (p !== undefined && types.get(i) === "float32") stack.push(p);
    }
  }
  return island;
}

/** float32 values → float16 bits; finite values beyond the float16 range clamp to ±65504, ±Infinity and NaN stay. */
export function toHalfClamped(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    out[i] = floatToHalf(Number.isFinite(v) ? Math.max(-FLOAT16_MAX, Math.min(FLOAT16_MAX, v)) : v);
  }
  return out;
}

function halveRaw(t: TensorProtoData, name = t.name): TensorProtoData {
  const raw = t.raw!;
  const aligned = raw.byteOffset % 4 === 0 ? raw : raw.slice();
  const half = toHalfClamped(new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4));
  return { name, dtype: "float16", dims: t.dims, raw: new Uint8Array(half.buffer) };
}

type Precision = "f16" | "f32";

/** The float16 graph as parts (exported for tests and inspection; halveGraph encodes it). */
export function halveParts(g: HalveInput): HalvedParts {
  const types = inferDtypes(g.nodes, g.initializers, g.inputs);
  const island = float32Island(g.nodes, types);
  const isF32 = (name: string): boolean => name !== "" && types.get(name) === "float32";
  const used = new Set<string>([...types.keys(), ...g.nodes.map((n) => n.name)]);
  const fresh = (base: string): string => {
    let name = base;
    for (let i = 1; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return name;
  };

  // float16 file weights: the initializer takes its Cast's output name; bfloat16 ones keep a Cast (to FLOAT16 below)
  const dropped = new Set<NodeData>();
  const renamedInit = new Map<TensorProtoData, string>();
  for (const h of g.halves) {
    if (h.init.dtype !== "float16" || h.init.external === undefined) continue;
    dropped.add(h.cast);
    renamedInit.set(h.init, h.value);
  }

  // float32 outputs computed in the graph are produced under a new name and Cast back to FLOAT as the output
  const inputNames = new Set(g.inputs.map((i) => i.name));
  const initNames = new Set(g.initializers.map((t) => t.name));
  const outRename = new Map<string, string>();
  for (const o of g.outputs) {
    if (o.dtype === "float32" && !inputNames.has(o.name) && !initNames.has(o.name)) outRename.set(o.name, fresh(`${o.name}/float16`));
  }
  const rn = (name: string): string => outRename.get(name) ?? name;

  // where each float32 value lives after halving
  const home = new Map<string, Precision>();
  for (const i of g.inputs) if (i.dtype === "float32") home.set(i.name, "f32");
  const rawF32 = new Map<string, TensorProtoData>();
  for (const t of g.initializers) {
    if (t.dtype !== "float32") continue;
    if (t.raw !== undefined) rawF32.set(t.name, t);
    else home.set(t.name, "f32"); // external float32 data: Cast where float16 is wanted
  }
  for (const h of g.halves) if (renamedInit.has(h.init)) home.set(h.value, "f16");
  for (const n of g.nodes) {
    if (dropped.has(n)) continue;
    for (const o of n.outputs) if (isF32(o)) home.set(rn(o), island.has(n) ? "f32" : "f16");
  }

  // what each consumer wants, so a raw constant is converted in place when nothing wants it float32
  const want = (n: NodeData, index: number): Precision | undefined => {
    if (ANY_TYPE_OPS.has(n.opType)) return undefined;
    if (n.opType === "Resize" && index >= 1) return index === 2 ? "f32" : undefined; // scales: tensor(float); roi: any
    return island.has(n) ? "f32" : "f16";
  };
  const rawWants = new Map<string, Set<Precision>>();
  for (const n of g.nodes) {
    if (dropped.has(n)) continue;
    n.inputs.forEach((i, k) => {
      const w = want(n, k);
      if (w === undefined || !rawF32.has(i)) return;
      let set = rawWants.get(i);
      if (set === undefined) rawWants.set(i, (set = new Set()));
      set.add(w);
    });
  }

  const initializers: TensorProtoData[] = [];
  const converted = new Map<string, string>(); // `${name}\0${precision}` → value name
  for (const t of g.initializers) {
    const renamed = renamedInit.get(t);
    if (renamed !== undefined) {
      initializers.push({ ...t, name: renamed });
      continue;
    }
    const wants = rawWants.get(t.name);
    if (t.raw === undefined || t.dtype !== "float32" || wants === undefined) {
      initializers.push(t);
      continue;
    }
    if (wants.has("f32")) {
      initializers.push(t);
      home.set(t.name, "f32");
      if (wants.has("f16")) {
        const name = fresh(`${t.name}/float16`);
        initializers.push(halveRaw(t, name));
        converted.set(`${t.name}\0f16`, name);
      }
    } else {
      initializers.push(halveRaw(t));
      home.set(t.name, "f16");
    }
  }

  const nodes: NodeData[] = [];
  const castTo = (value: string, to: Precision): string => {
    const key = `${value}\0${to}`;
    let name = converted.get(key);
    if (name === undefined) {
      name = fresh(`${value}/${to === "f16" ? "float16" : "float32"}`);
      nodes.push({ name: fresh(`${name}/cast`), opType: "Cast", domain: "", inputs: [value], outputs: [name], attrs: { to: { type: "int", value: to === "f16" ? FLOAT16 : FLOAT } } });
      converted.set(key, name);
    }
    return name;
  };

  for (const n of g.nodes) {
    if (dropped.has(n)) continue;
    const inputs = n.inputs.map((original, k) => {
      const i = rn(original);
      const w = want(n, k);
      const h = home.get(i);
      return w === undefined || h === undefined || h === w ? i : castTo(i, w);
    });
    const attrs = island.has(n) ? n.attrs : halveAttrs(n);
    nodes.push({ ...n, inputs, outputs: n.outputs.map(rn), attrs });
  }
  for (const [name, internal] of outRename) {
    nodes.push({ name: fresh(`${name}/float32`), opType: "Cast", domain: "", inputs: [internal], outputs: [name], attrs: { to: { type: "int", value: FLOAT } } });
  }
  const float32Nodes = new Set([...island].map((n) => n.name));
  return { nodes, initializers, inputs: g.inputs, outputs: g.outputs, float32Nodes };
}

/** A Cast to FLOAT becomes a Cast to FLOAT16; float32 tensor attributes (ConstantOfShape's value) become float16. */
function halveAttrs(n: NodeData): NodeData["attrs"] {
  let attrs: Record<string, NodeData["attrs"][string]> | undefined;
  for (const [k, a] of Object.entries(n.attrs)) {
    let next = a;
    if (n.opType === "Cast" && k === "to" && a.type === "int" && a.value === FLOAT) next = { type: "int", value: FLOAT16 };
    if (a.type === "tensor" && a.value.dtype === "float32" && a.value.raw !== undefined) next = { type: "tensor", value: halveRaw(a.value) };
    if (next !== a) (attrs ??= { ...n.attrs })[k] = next;
  }
  return attrs ?? n.attrs;
}

export interface HalvedGraph {
  readonly bytes: Uint8Array;
  readonly externalFiles: readonly { location: string; path: string }[];
}

export function halveGraph(g: HalveInput): HalvedGraph {
  const parts = halveParts(g);
  const bytes = encodeModel({
    irVersion: g.irVersion,
    opsets: g.opsets,
    producerName: "vellum",
    graph: { name: g.name, nodes: parts.nodes, initializers: parts.initializers, inputs: parts.inputs, outputs: parts.outputs },
  });
  const locations = new Set(parts.initializers.flatMap((t) => (t.external === undefined ? [] : [t.external.location])));
  return { bytes, externalFiles: g.files.filter((f) => locations.has(f.location)) };
}
