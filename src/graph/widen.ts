// The float32 variant of a built graph: 16-bit floats that a checkpoint file holds are declared as float32
// external data in a "sidecar" file instead of being Cast inside the graph. The runtime writes each sidecar once,
// tensor by tensor, from its checkpoint (runtime/float32-sidecar.ts), so ONNX Runtime never holds the 16-bit
// weights and their constant-folded float32 copies at the same time (docs/performance.md, first load).
import { encodeModel, type NodeData, type TensorProtoData, type ValueInfo } from "./onnx-proto.js";

/** One 16-bit tensor of a checkpoint and where its float32 copy goes in the sidecar. */
export interface SidecarTensor {
  readonly dtype: "float16" | "bfloat16";
  /** Byte range in the checkpoint. */
  readonly offset: number;
  readonly byteLength: number;
  /** Byte offset of the float32 copy in the sidecar (its length is byteLength × 2). */
  readonly targetOffset: number;
}

/** A float32 file the runtime writes from one checkpoint; `location` is relative to the model's directory. */
export interface Float32Sidecar {
  readonly location: string;
  readonly source: string;
  readonly byteLength: number;
  readonly tensors: readonly SidecarTensor[];
}

/** A 16-bit file-backed weight as GraphCore declared it: initializer `init` Cast by node `cast` into `value`. */
export interface HalfWeight {
  readonly init: TensorProtoData;
  readonly cast: NodeData;
  readonly value: string;
  readonly path: string;
}

export interface WidenInput {
  readonly name: string;
  readonly irVersion: number;
  readonly opsets: readonly { domain: string; version: number }[];
  readonly nodes: readonly NodeData[];
  readonly initializers: readonly TensorProtoData[];
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  readonly files: readonly { location: string; path: string }[];
  readonly halves: readonly HalfWeight[];
}

/** Sidecar tensors start on 64-byte boundaries. */
const ALIGN = 64;

export interface WidenedParts {
  readonly bytes: Uint8Array;
  readonly externalFiles: readonly { location: string; path: string }[];
  readonly sidecars: readonly Float32Sidecar[];
}

export function widenGraph(g: WidenInput): WidenedParts {
  const casts = new Set<NodeData>(g.halves.map((h) => h.cast));
  const byInit = new Map<TensorProtoData, HalfWeight>(g.halves.map((h) => [h.init, h]));
  const sidecars = new Map<string, { location: string; source: string; byteLength: number; tensors: SidecarTensor[] }>();
  const used = new Set<string>();
  const initializers: TensorProtoData[] = [];
  for (const init of g.initializers) {
    const half = byInit.get(init);
    if (half === undefined || init.external === undefined) {
      if (init.external !== undefined) used.add(init.external.location);
      initializers.push(init);
      continue;
    }
    let car = sidecars.get(half.path);
    if (car === undefined) {
      // a neutral name, like the checkpoint's own location (graph-core.ts), so the graph bytes do not carry file names
      car = { location: `f32-${sidecars.size}.bin`, source: half.path, byteLength: 0, tensors: [] };
      sidecars.set(half.path, car);
    }
    const targetOffset = Math.ceil(car.byteLength / ALIGN) * ALIGN;
    const length = init.external.length * 2;
    car.tensors.push({ dtype: init.dtype as SidecarTensor["dtype"], offset: init.external.offset, byteLength: init.external.length, targetOffset });
    car.byteLength = targetOffset + length;
    // named as the Cast's output, so the consumers read it unchanged
    initializers.push({ name: half.value, dtype: "float32", dims: init.dims, external: { location: car.location, offset: targetOffset, length } });
  }
  const bytes = encodeModel({
    irVersion: g.irVersion,
    opsets: g.opsets,
    producerName: "vellum",
    graph: { name: g.name, nodes: g.nodes.filter((n) => !casts.has(n)), initializers, inputs: g.inputs, outputs: g.outputs },
  });
  return { bytes, externalFiles: g.files.filter((f) => used.has(f.location)), sidecars: [...sidecars.values()] };
}
