import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../graph/index.js";
import { float32 } from "../tensor/tensor.js";
import { assertDevice, listSupportedBackends } from "./backends.js";
import { createSession } from "./session.js";
import { optionsKey, resolveOptions, toOrtOptions } from "./session-options.js";
import { useTempCacheDir } from "../../test/helpers/cache-dir.js";

const { cache: dir } = useTempCacheDir("vellum-session-options-");


describe("session options", () => {
  it("translates prepacking, threads and the optimisation level to onnxruntime-node options", () => {
    const o = resolveOptions({ threads: 3, prepacking: false, optimizationLevel: "extended", interOpThreads: 2 });
    const ort = toOrtOptions(o);
    expect(ort).toMatchObject({ executionProviders: ["cpu"], graphOptimizationLevel: "extended", intraOpNumThreads: 3, interOpNumThreads: 2, executionMode: "parallel" });
    expect(ort.extra).toEqual({ session: { disable_prepacking: "1" } });
    expect(toOrtOptions(resolveOptions({})).extra).toBeUndefined();
    expect(toOrtOptions(o, { isOptimized: true }).graphOptimizationLevel).toBe("disabled");
    expect(optionsKey(o)).not.toBe(optionsKey(resolveOptions({ threads: 3 })));
  });

  it("lists cpu as installed and refuses cuda with install advice when its provider is absent", () => {
    const backends = listSupportedBackends();
    expect(backends.find((b) => b.name === "cpu")).toMatchObject({ bundled: true, installed: true });
    expect(() => assertDevice("cpu")).not.toThrow();
    if (backends.find((b) => b.name === "cuda")?.installed !== true) expect(() => assertDevice("cuda")).toThrow(/onnxruntime-node-install=cuda12/);
  });

  it("saves the optimised model once and loads it on the next open, with the same results", async () => {
    const g = new GraphBuilder();
    const x = g.input("x", "float32", [2, 3]);
    g.output(g.layerNorm(g.add(g.mul(x, 2), 1), g.constant(float32([3], [1, 2, 3])), g.constant(float32([3], [0, 0.5, 1])), 1e-5), "y");
    const built = g.build();
    const feeds = { x: float32([2, 3], [1, 2, 3, -1, 0, 4]) };
    const a = await createSession(built, { threads: 1, cacheOptimized: true });
    const first = [...((await a.run(feeds))["y"]!.data as Float32Array)];
    await a.release();
    const modelDir = join(dir, "onnx", readdirSync(join(dir, "onnx"))[0]!);
    expect(readdirSync(modelDir).filter((f) => /^opt-all-[0-9a-f]{8}\.onnx$/.test(f))).toHaveLength(1);
    const b = await createSession(built, { threads: 1, cacheOptimized: true });
    expect([...((await b.run(feeds))["y"]!.data as Float32Array)]).toEqual(first);
    await b.release();
  });
});
