import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { SafetensorsFile, writeSafetensors } from "../checkpoint/safetensors.js";
import { safetensorsWeights } from "../checkpoint/weights.js";
import { GraphBuilder } from "../graph/index.js";
import { bfloat16ToFloat, float32, halfToFloat, tensor, toFloat16 } from "../tensor/tensor.js";
import { widen, writeSidecar } from "./float32-sidecar.js";
import { materialize, modelHash, writeSidecars } from "./model-cache.js";
import { createSession } from "./session.js";
import { useTempCacheDir } from "../../test/helpers/cache-dir.js";

const { root: dir } = useTempCacheDir("vellum-sidecar-");


/** A checkpoint with a float16, a bfloat16 and a float32 tensor, and a graph y = (x·a + b) · c using all three. */
function fixture(name: string) {
  const path = join(dir, `${name}.safetensors`);
  const a = toFloat16(float32([2, 3], [0.1, -2.5, 3.14159, 65504, -1e-6, 7]));
  const bBits = Uint16Array.from([0x3f80, 0xc040, 0x3e4d]); // 1, -3, ≈0.2
  const c = float32([3], [2, 0.5, -1]);
  writeSafetensors(path, { a, b: tensor("bfloat16", [3], bBits), c });
  const file = SafetensorsFile.open(path);
  const w = safetensorsWeights(file);
  const g = new GraphBuilder();
  const x = g.input("x", "float32", [2, 3]);
  g.output(g.mul(g.add(g.mul(x, g.weight(w.get("a"))), g.weight(w.get("b"))), g.weight(w.get("c"))), "y");
  file.close();
  const want: number[] = [];
  const xs = [1, 2, 3, 4, 5, 6];
  for (let i = 0; i < 6; i++) want.push((xs[i]! * halfToFloat(a.data[i]!) + bfloat16ToFloat(bBits[i % 3]!)) * c.data[i % 3]!);
  return { path, built: g.build(), feeds: { x: float32([2, 3], xs) }, want };
}

describe("float32 sidecar", () => {
  it("widens float16 and bfloat16 bit patterns exactly", () => {
    const h = Uint16Array.from([0x0000, 0x8000, 0x3c00, 0x0001, 0x7bff, 0x7c00, 0xfc00]);
    const out = new Float32Array(h.length);
    widen("float16", h, out);
    expect([...out]).toEqual([...h].map(halfToFloat));
    const b = Uint16Array.from([0x3f80, 0xc040, 0x7f80, 0x0001]);
    widen("bfloat16", b, out, b.length);
    expect([...out.subarray(0, 4)]).toEqual([...b].map(bfloat16ToFloat));
  });

  it("declares 16-bit file weights as float32 in a sidecar, without Cast, and keeps float32 ones in the checkpoint", async () => {
    const { path, built } = fixture("decl");
    const wide = built.widened!();
    expect(wide.sidecars).toHaveLength(1);
    expect(wide.sidecars![0]!.tensors.map((t) => t.dtype)).toEqual(["float16", "bfloat16"]);
    expect(wide.sidecars![0]!.source).toBe(path);
    expect(wide.externalFiles.map((f) => f.path)).toEqual([path]); // c stays float32 in the checkpoint
    expect(Buffer.from(built.bytes).includes("Cast")).toBe(true);
    expect(Buffer.from(wide.bytes).includes("Cast")).toBe(false);
    const hash = await modelHash(wide);
    const model = materialize(wide, hash);
    await writeSidecars(wide, hash);
    const car = wide.sidecars![0]!;
    const bytes = readFileSync(join(dirname(model), car.location));
    expect(bytes.length).toBe(car.byteLength);
    const first = new Float32Array(bytes.buffer, bytes.byteOffset + car.tensors[0]!.targetOffset, 6);
    const a16 = SafetensorsFile.open(path);
    expect([...first]).toEqual([...(a16.read("a").data as Uint16Array)].map(halfToFloat));
    a16.close();
  });

  it("gives the same outputs as the in-graph Cast, and writes the sidecar only for the float32 path", async () => {
    const { built, feeds, want } = fixture("run");
    expect(built.widened).toBeDefined();
    const wide = await createSession(built, { threads: 1 });
    const cast = await createSession(built, { threads: 1, float32Weights: false });
    const yWide = [...((await wide.run(feeds))["y"]!.data as Float32Array)];
    const yCast = [...((await cast.run(feeds))["y"]!.data as Float32Array)];
    expect(yWide).toEqual(yCast);
    expect(yWide).toEqual([...Float32Array.from(want)]);
    await wide.release();
    await cast.release();
    const dirs = readdirSync(join(dir, "cache", "onnx")).map((d) => readdirSync(join(dir, "cache", "onnx", d)));
    // the previous test's checkpoint holds the same bytes under another name, so both use one folder
    expect(dirs.filter((files) => files.some((f) => f.startsWith("f32-")))).toHaveLength(1);
    expect(dirs.filter((files) => !files.some((f) => f.startsWith("f32-")))).toHaveLength(1);
  });

  it("deletes the sidecar once the optimised model is saved and does not write it again for that model", async () => {
    const { built, feeds, want } = fixture("opt");
    const a = await createSession(built, { threads: 1, cacheOptimized: true });
    const first = [...((await a.run(feeds))["y"]!.data as Float32Array)];
    await a.release();
    const hash = await modelHash(built.widened!());
    const files = () => readdirSync(join(dir, "cache", "onnx", hash));
    expect(files().some((f) => /^opt-all-[0-9a-f]{8}\.onnx$/.test(f))).toBe(true);
    expect(files().some((f) => f.startsWith("f32-"))).toBe(false);
    const b = await createSession(built, { threads: 1, cacheOptimized: true });
    expect([...((await b.run(feeds))["y"]!.data as Float32Array)]).toEqual(first);
    expect(first).toEqual([...Float32Array.from(want)]);
    await b.release();
    expect(files().some((f) => f.startsWith("f32-"))).toBe(false);
  });

  it("keys the widened model by the content of the checkpoint its sidecar is written from", async () => {
    const path = join(dir, "only-half.safetensors");
    writeSafetensors(path, { w: toFloat16(float32([2], [1, 2])) });
    const build = () => {
      const file = SafetensorsFile.open(path);
      const g = new GraphBuilder();
      g.output(g.mul(g.input("x", "float32", [2]), g.weight(safetensorsWeights(file).get("w"))), "y");
      file.close();
      return g.build().widened!();
    };
    const wide = build();
    expect(wide.externalFiles).toHaveLength(0);
    const before = await modelHash(wide);
    writeSafetensors(path, { w: toFloat16(float32([2], [3, 4])) });
    expect(await modelHash(build())).not.toBe(before);
  });

  it("has no widened variant when every weight is float32", () => {
    const path = join(dir, "f32.safetensors");
    writeSafetensors(path, { w: float32([2], [1, 2]) });
    const file = SafetensorsFile.open(path);
    const g = new GraphBuilder();
    g.output(g.mul(g.input("x", "float32", [2]), g.weight(safetensorsWeights(file).get("w"))), "y");
    file.close();
    expect(g.build().widened).toBeUndefined();
    expect(statSync(path).size).toBeGreaterThan(0);
  });
});

describe("writeSidecar", () => {
  it("shares one write between concurrent callers and rewrites a sidecar that went missing", async () => {
    const { built } = fixture("concurrent");
    const wide = built.widened!();
    const car = wide.sidecars![0]!;
    const target = join(dir, "concurrent.f32");
    const a = writeSidecar(car, target);
    const b = writeSidecar(car, target);
    expect(b).toBe(a);
    await Promise.all([a, b]);
    expect(statSync(target).size).toBe(car.byteLength);
    const before = readFileSync(target);
    rmSync(target);
    await writeSidecar(car, target);
    expect(readFileSync(target)).toEqual(before);
  });
});
