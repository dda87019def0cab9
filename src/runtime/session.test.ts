import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SafetensorsFile, writeSafetensors } from "../checkpoint/safetensors.js";
import { memoryWeight, safetensorsWeights } from "../checkpoint/weights.js";
import { GraphBuilder } from "../graph/index.js";
import { float32, halfToFloat, tensor, toFloat16 } from "../tensor/tensor.js";
import { createSession, openSessionCount } from "./session.js";
import { useTempCacheDir } from "../../test/helpers/cache-dir.js";

const { root: dir } = useTempCacheDir("vellum-runtime-");


function seq(n: number, f: (i: number) => number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => f(i));
}

/** y = x Wᵀ + b computed in JS, W [out, in]. */
function linearRef(x: ArrayLike<number>, rows: number, w: ArrayLike<number>, out: number, inn: number, b: ArrayLike<number>): number[] {
  const y: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < out; o++) {
      let s = b[o]!;
      for (let i = 0; i < inn; i++) s += x[r * inn + i]! * w[o * inn + i]!;
      y.push(s);
    }
  }
  return y;
}

describe("createSession", () => {
  it("runs a linear layer whose weight is external data inside a safetensors file", async () => {
    const path = join(dir, "linear.safetensors");
    const w = seq(12, (i) => (i - 5) / 7);
    const b = seq(3, (i) => i * 0.25 - 0.1);
    // a leading unrelated tensor so the weight sits at a non-zero offset
    writeSafetensors(path, { pad: float32([5], [9, 9, 9, 9, 9]), "fc.weight": float32([3, 4], w), "fc.bias": float32([3], b) });
    const file = SafetensorsFile.open(path);
    const weights = safetensorsWeights(file);
    const g = new GraphBuilder();
    const x = g.input("x", "float32", ["batch", 4]);
    g.output(g.linear(x, g.weight(weights.get("fc.weight")), g.weight(weights.get("fc.bias")), "fc"), "y");
    const built = g.build();
    expect(built.externalFiles.map((f) => f.path)).toEqual([path]);
    const session = await createSession(built, { threads: 1 });
    const xs = seq(8, (i) => Math.sin(i));
    const { y } = await session.run({ x: float32([2, 4], xs) });
    expect(y!.shape).toEqual([2, 3]);
    const want = linearRef(xs, 2, w, 3, 4, b);
    [...(y!.data as Float32Array)].forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
    // the model sits in the cache dir beside a hard link to the checkpoint (same inode)
    const modelDir = join(dir, "cache", "onnx", readdirSync(join(dir, "cache", "onnx"))[0]!);
    const linked = join(modelDir, built.externalFiles[0]!.location);
    expect(existsSync(join(modelDir, "model.onnx"))).toBe(true);
    expect(statSync(linked).ino).toBe(statSync(path).ino);
    await session.release();
    file.close();
  });

  it("declares float16 weights as float16 and casts them to float32 in the graph", async () => {
    const path = join(dir, "half.safetensors");
    const w16 = toFloat16(float32([2, 3], seq(6, (i) => 0.1 + i / 3)));
    writeSafetensors(path, { "w.weight": w16 });
    const file = SafetensorsFile.open(path);
    const g = new GraphBuilder();
    const x = g.input("x", "float32", [1, 3]);
    g.output(g.linear(x, g.weight(safetensorsWeights(file).get("w.weight"))), "y");
    const session = await createSession(g.build(), { threads: 1 });
    const { y } = await session.run({ x: float32([1, 3], [1, -2, 0.5]) });
    const wf = [...w16.data].map(halfToFloat);
    const want = linearRef([1, -2, 0.5], 1, wf, 2, 3, [0, 0]);
    [...(y!.data as Float32Array)].forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 6));
    await session.release();
    file.close();
  });

  it("takes int64 ids and gathers rows of an in-memory embedding table", async () => {
    const table = float32([5, 2], seq(10, (i) => i * 1.5));
    const g = new GraphBuilder();
    const ids = g.input("ids", "int64", ["batch", 3]);
    g.output(g.gather(g.weight(memoryWeight("emb", table)), ids), "rows"); // [B, 3, 2]
    const built = g.build();
    expect(built.externalFiles).toEqual([]);
    const session = await createSession(built, { threads: 1 });
    const { rows } = await session.run({ ids: tensor("int64", [1, 3], BigInt64Array.from([4n, 0n, 2n])) });
    expect(rows!.shape).toEqual([1, 3, 2]);
    expect([...(rows!.data as Float32Array)]).toEqual([12, 13.5, 0, 1.5, 6, 7.5]) // rows 4, 0, 2 of i·1.5;
    await session.release();
  });

  it("shares one native session per model and frees it after the last release", async () => {
    const g = new GraphBuilder();
    g.output(g.mul(g.input("x", "float32", [2]), 3), "y");
    const built = g.build();
    const before = openSessionCount();
    const a = await createSession(built, { threads: 1 });
    const b = await createSession(built, { threads: 1 });
    expect(openSessionCount()).toBe(before + 1);
    expect([...((await b.run({ x: float32([2], [1, 2]) }))["y"]!.data as Float32Array)]).toEqual([3, 6]);
    await a.release();
    expect(openSessionCount()).toBe(before + 1);
    await b.release();
    expect(openSessionCount()).toBe(before);
  });
});
