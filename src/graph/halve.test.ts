import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SafetensorsFile, writeSafetensors } from "../checkpoint/safetensors.js";
import { memoryWeight, safetensorsWeights } from "../checkpoint/weights.js";
import { createSession } from "../runtime/session.js";
import { bfloat16ToFloat, float32, floatToHalf, halfToFloat, tensor, toFloat16, type Tensor } from "../tensor/tensor.js";
import { GraphBuilder } from "./graph-builder.js";
import { halveParts, inferDtypes, toHalfClamped, type HalveInput } from "./halve.js";
import { ONNX_DTYPE, type NodeData, type TensorProtoData } from "./onnx-proto.js";
import { useTempCacheDir } from "../../test/helpers/cache-dir.js";

const { root: dir } = useTempCacheDir("vellum-halve-");


const FLOAT = ONNX_DTYPE.float32;
const FLOAT16 = ONNX_DTYPE.float16;
const node = (name: string, opType: string, inputs: string[], outputs: string[], attrs: NodeData["attrs"] = {}): NodeData => ({ name, opType, domain: "", inputs, outputs, attrs });
const raw = (values: number[]): Uint8Array => new Uint8Array(Float32Array.from(values).buffer);

/**
 * By hand, as GraphCore records it: a float16 file weight `a` and a bfloat16 one `b` each Cast to FLOAT, a float32 file
 * weight `c`, a raw mask constant, Resize scales, a sinusoid of the timestep `t`, ConstantOfShape with a float value,
 * an int64 input gathered from a table kept 16-bit.
 */
function handMade(): HalveInput {
  const ext = (offset: number, length: number) => ({ location: "w0.safetensors", offset, length });
  const a: TensorProtoData = { name: "a", dtype: "float16", dims: [3], external: ext(0, 6) };
  const b: TensorProtoData = { name: "b", dtype: "bfloat16", dims: [3], external: ext(8, 6) };
  const c: TensorProtoData = { name: "c", dtype: "float32", dims: [3], external: ext(16, 12) };
  const castA = node("a/cast", "Cast", ["a"], ["a/cast:0"], { to: { type: "int", value: FLOAT } });
  const castB = node("b/cast", "Cast", ["b"], ["b/cast:0"], { to: { type: "int", value: FLOAT } });
  const nodes = [
    castA,
    castB,
    node("mul", "Mul", ["x", "a/cast:0"], ["mul:0"]),
    node("add", "Add", ["mul:0", "b/cast:0"], ["add:0"]),
    node("mul_c", "Mul", ["add:0", "c"], ["mul_c:0"]),
    node("masked", "Add", ["mul_c:0", "mask"], ["masked:0"]),
    node("up", "Resize", ["masked:0", "", "scales"], ["up:0"], { mode: { type: "string", value: "nearest" } }),
    node("t_args", "Mul", ["t", "freqs"], ["t_args:0"]),
    node("t_sin", "Sin", ["t_args:0"], ["t_sin:0"]),
    node("plus_t", "Add", ["up:0", "t_sin:0"], ["plus_t:0"]),
    node("shape", "Shape", ["plus_t:0"], ["shape:0"]),
    node("quarter", "ConstantOfShape", ["shape:0"], ["quarter:0"], { value: { type: "tensor", value: { name: "", dtype: "float32", dims: [1], raw: raw([0.25]) } } }),
    node("y", "Add", ["plus_t:0", "quarter:0"], ["y"]),
    node("rows", "Gather", ["table", "ids"], ["rows:0"]),
    node("rows/cast", "Cast", ["rows:0"], ["rows/cast:0"], { to: { type: "int", value: FLOAT } }),
    node("e/identity", "Identity", ["rows/cast:0"], ["e"]),
  ];
  const initializers: TensorProtoData[] = [
    a,
    b,
    c,
    { name: "mask", dtype: "float32", dims: [4], raw: raw([-3.4028234663852886e38, 1e5, -Infinity, 0.1]) },
    { name: "scales", dtype: "float32", dims: [4], raw: raw([1, 1, 2, 2]) },
    { name: "freqs", dtype: "float32", dims: [1], raw: raw([0.5]) },
    { name: "table", dtype: "float16", dims: [2, 3], raw: new Uint8Array(12) },
  ];
  return {
    name: "hand",
    irVersion: 8,
    opsets: [{ domain: "", version: 17 }],
    nodes,
    initializers,
    inputs: [
      { name: "x", dtype: "float32", dims: [1, 1, 1, 3] },
      { name: "t", dtype: "float32", dims: [1] },
      { name: "ids", dtype: "int64", dims: [1] },
    ],
    outputs: [
      { name: "y", dtype: "float32" },
      { name: "e", dtype: "float32" },
    ],
    files: [{ location: "w0.safetensors", path: "/nowhere.safetensors" }],
    halves: [
      { init: a, cast: castA, value: "a/cast:0", path: "/nowhere.safetensors" },
      { init: b, cast: castB, value: "b/cast:0", path: "/nowhere.safetensors" },
    ],
  };
}

describe("halveParts", () => {
  const g = handMade();
  const h = halveParts(g);
  const types = inferDtypes(h.nodes, h.initializers, h.inputs);
  const byName = new Map(h.nodes.map((n) => [n.name, n]));
  const init = (name: string) => h.initializers.find((t) => t.name === name);
  const producerOf = (value: string) => h.nodes.find((n) => n.outputs.includes(value));

  it("uses a float16 file weight as stored: no Cast, the initializer named as the Cast's output", () => {
    expect(byName.has("a/cast")).toBe(false);
    expect(init("a/cast:0")).toMatchObject({ dtype: "float16", external: { location: "w0.safetensors", offset: 0, length: 6 } });
    expect(byName.get("mul")!.inputs).toContain("a/cast:0");
  });

  it("casts bfloat16 and float32 file weights to FLOAT16", () => {
    expect(byName.get("b/cast")!.attrs["to"]).toEqual({ type: "int", value: FLOAT16 });
    expect(types.get("b/cast:0")).toBe("float16");
    const cInput = byName.get("mul_c")!.inputs[1]!;
    expect(producerOf(cInput)).toMatchObject({ opType: "Cast", inputs: ["c"], attrs: { to: { type: "int", value: FLOAT16 } } });
    expect(types.get(cInput)).toBe("float16");
    expect(init("c")).toMatchObject({ dtype: "float32", external: { length: 12 } }); // still read from the checkpoint
  });

  it("converts raw constants to float16, clamping finite values beyond ±65504 and keeping infinities", () => {
    const mask = init("mask")!;
    expect(mask.dtype).toBe("float16");
    const bits = new Uint16Array(mask.raw!.slice().buffer);
    expect([...bits].map(halfToFloat)).toEqual([-65504, 65504, -Infinity, halfToFloat(floatToHalf(0.1))]);
    const quarter = byName.get("quarter")!.attrs["value"];
    expect(quarter?.type === "tensor" && quarter.value.dtype).toBe("float16");
  });

  it("keeps Resize scales and the sinusoid float32, casting the sinusoid's result to float16", () => {
    expect(init("scales")!.dtype).toBe("float32");
    expect(byName.get("up")!.inputs[2]).toBe("scales");
    expect(init("freqs")!.dtype).toBe("float32");
    expect(byName.get("t_args")!.inputs).toEqual(["t", "freqs"]); // the timestep input itself, no cast
    expect([...h.float32Nodes].sort()).toEqual(["t_args", "t_sin"]);
    const sinInput = byName.get("plus_t")!.inputs[1]!;
    expect(producerOf(sinInput)).toMatchObject({ opType: "Cast", inputs: ["t_sin:0"], attrs: { to: { type: "int", value: FLOAT16 } } });
  });

  it("casts float32 inputs to float16 where used and float16 results back to FLOAT as the outputs", () => {
    expect(h.inputs).toEqual(g.inputs);
    expect(h.outputs).toEqual(g.outputs);
    const xCast = byName.get("mul")!.inputs[0]!;
    expect(producerOf(xCast)).toMatchObject({ opType: "Cast", inputs: ["x"], attrs: { to: { type: "int", value: FLOAT16 } } });
    for (const out of ["y", "e"]) {
      const cast = producerOf(out)!;
      expect(cast).toMatchObject({ opType: "Cast", attrs: { to: { type: "int", value: FLOAT } } });
      expect(types.get(cast.inputs[0]!)).toBe("float16");
    }
    expect(byName.get("rows")!.inputs).toEqual(["table", "ids"]); // int64 ids untouched
  });

  it("leaves no other float32 value in the graph", () => {
    const allowed = new Set(["x", "t", "y", "e", "c", "scales", "freqs", "t_args:0", "t_sin:0"]);
    const float32 = [...types].filter(([name, t]) => t === "float32" && !allowed.has(name)).map(([name]) => name);
    expect(float32).toEqual([]);
    // and the original had plenty
    expect([...inferDtypes(g.nodes, g.initializers, g.inputs)].filter(([, t]) => t === "float32").length).toBeGreaterThan(10);
  });

  it("toHalfClamped rounds to nearest even and keeps NaN", () => {
    const out = toHalfClamped(Float32Array.from([1 + 2 ** -11, 70000, -70000, Infinity, NaN]));
    expect([...out].map(halfToFloat)).toEqual([1, 65504, -65504, Infinity, NaN]);
  });
});

describe("halved() of a built graph, run on CPU", () => {
  it("computes in float16 with float16, bfloat16, float32 and in-memory weights, fed and read as float32", async () => {
    const path = join(dir, "weights.safetensors");
    const a = toFloat16(float32([3], [0.1, -2.5, 3.14159]));
    const bBits = Uint16Array.from([0x3f80, 0xc040, 0x3e4d]); // 1, -3, ≈0.2
    const c = float32([3], [2, 0.5, -1]);
    writeSafetensors(path, { a, b: tensor("bfloat16", [3], bBits), c });
    const file = SafetensorsFile.open(path);
    const w = safetensorsWeights(file);
    const g = new GraphBuilder();
    const x = g.input("x", "float32", [1, 1, 2, 3]);
    const t = g.input("t", "float32", [1]);
    let h = g.mul(g.add(g.mul(x, g.weight(w.get("a"))), g.weight(w.get("b"))), g.weight(w.get("c"))); // [1, 1, 2, 3]
    h = g.mul(h, g.weight(memoryWeight("m", float32([3], [1.5, 1, 0.25])))); // [1, 1, 2, 3]
    const up = g.resizeNearest(h, 2); // [1, 1, 4, 6]
    // through an Unsqueeze as in the UNet (a Cast right before an op without a float16 CPU kernel would be undone)
    const sin = g.op("Sin", [g.mul(g.unsqueeze(t, [0]), g.constant(float32([1], [1])))]); // [1, 1]
    g.output(g.add(up, sin), "y", "float32", [1, 1, 4, 6]);
    const built = g.build();
    file.close();

    // t = 999.3: float16 holds 999.5 (spacing 0.5 above 512), so a float16 sinusoid would be off by ≈ 0.2
    const feeds = { x: float32([1, 1, 2, 3], [1, 2, 3, 4, 5, 6]), t: float32([1], [999.3]) };
    const run = async (precision: "float32" | "float16"): Promise<Tensor> => {
      // level "disabled": at "basic" and above the CPU provider removes the Cast pairs around ops without float16
      // kernels, and this graph would compute in float32
      const s = await createSession(built, { precision, threads: 1, ...(precision === "float16" && { optimizationLevel: "disabled" as const }) });
      try {
        return (await s.run(feeds))["y"]!;
      } finally {
        await s.release();
      }
    };
    const m = [1.5, 1, 0.25];
    const want: number[] = [];
    for (let r = 0; r < 4; r++) {
      for (let col = 0; col < 6; col++) {
        const i = Math.floor(r / 2) * 3 + Math.floor(col / 2);
        const k = i % 3;
        want.push((feeds.x.data[i]! * halfToFloat(a.data[k]!) + bfloat16ToFloat(bBits[k]!)) * c.data[k]! * m[k]! + Math.sin(Math.fround(999.3)));
      }
    }
    const f32 = await run("float32");
    const f16 = await run("float16");
    expect(f16.dtype).toBe("float32");
    expect(f16.shape).toEqual([1, 1, 4, 6]);
    const scale = Math.max(1, ...want.map(Math.abs));
    for (let i = 0; i < want.length; i++) {
      expect(Math.abs((f32.data as Float32Array)[i]! - want[i]!)).toBeLessThan(1e-5 * scale);
      // a handful of float16 roundings (u = 2⁻¹¹ each) on values of this scale; the sinusoid stays float32
      expect(Math.abs((f16.data as Float32Array)[i]! - want[i]!)).toBeLessThan(5e-3 * scale);
    }
    expect([...(f16.data as Float32Array)]).not.toEqual([...(f32.data as Float32Array)]); // it did run in float16
  });
});
