// The optimised model's weights written through a named pipe and direct I/O: same files as ONNX Runtime writes on
// its own, a session loaded from them gives the same outputs, and a failed save leaves no pipe or temporary file.
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GraphBuilder } from "../graph/index.js";
import { float32 } from "../tensor/tensor.js";
import { withDirectWeightsWrite } from "./direct-save.js";
import { modelDir, modelHash } from "./model-cache.js";
import { createSession } from "./session.js";

const dir = mkdtempSync(join(tmpdir(), "vellum-direct-save-"));
let previousCache: string | undefined;
beforeAll(() => {
  previousCache = process.env["VELLUM_CACHE_DIR"];
});
afterAll(() => {
  if (previousCache === undefined) delete process.env["VELLUM_CACHE_DIR"];
  else process.env["VELLUM_CACHE_DIR"] = previousCache;
  rmSync(dir, { recursive: true, force: true });
});

/** y = relu(x · W1) · W2 with 4 MiB + 2 MiB constant weights (ONNX Runtime saves initializers ≥ 1 KiB to the weights file). */
function graph() {
  const g = new GraphBuilder();
  const x = g.input("x", "float32", [2, 1024]);
  const w1 = float32([1024, 1024], new Float32Array(1024 * 1024).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5));
  const w2 = float32([1024, 512], new Float32Array(1024 * 512).map((_, i) => ((i * 104729) % 997) / 997 - 0.5));
  g.output(g.op("MatMul", [g.op("Relu", [g.op("MatMul", [x, g.constant(w1)])]), g.constant(w2)]), "y");
  return g.build();
}

const feeds = { x: float32([2, 1024], new Float32Array(2048).map((_, i) => Math.sin(i))) };

async function saveAndRun(cache: string) {
  process.env["VELLUM_CACHE_DIR"] = cache;
  const built = graph();
  const first = await createSession(built, { threads: 1, cacheOptimized: true });
  const y1 = (await first.run(feeds))["y"]!.data as Float32Array;
  await first.release();
  const folder = modelDir(await modelHash(built));
  const files = readdirSync(folder).sort();
  const data = files.find((f) => f.endsWith(".data"))!;
  // loaded again: from the saved optimised model and its weights
  const again = await createSession(built, { threads: 1, cacheOptimized: true });
  const y2 = (await again.run(feeds))["y"]!.data as Float32Array;
  await again.release();
  return { files, y1, y2, dataPath: join(folder, data) };
}

describe("optimised model weights through direct I/O", () => {
  it("writes the same files as ONNX Runtime's own buffered write, and loads back to the same outputs", async () => {
    const direct = await saveAndRun(join(dir, "direct"));
    process.env["VELLUM_DIRECT_IO"] = "0";
    let buffered;
    try {
      buffered = await saveAndRun(join(dir, "buffered"));
    } finally {
      delete process.env["VELLUM_DIRECT_IO"];
    }
    expect(direct.files).toEqual(buffered.files);
    expect(direct.files.some((f) => /^opt-all-[0-9a-f]{8}\.onnx$/.test(f))).toBe(true);
    expect(direct.files.some((f) => f.includes(".tmp"))).toBe(false);
    expect(lstatSync(direct.dataPath).isFile()).toBe(true);
    const bytes = readFileSync(direct.dataPath);
    expect(bytes.length).toBeGreaterThanOrEqual((1024 * 1024 + 1024 * 512) * 4);
    expect(bytes.equals(readFileSync(buffered.dataPath))).toBe(true);
    expect([...direct.y2]).toEqual([...direct.y1]);
    expect([...direct.y1]).toEqual([...buffered.y1]);
  });

  it("leaves no pipe or temporary file when the save fails, and rethrows its error", async () => {
    const folder = join(dir, "failing");
    rmSync(folder, { recursive: true, force: true });
    (await import("node:fs")).mkdirSync(folder);
    const target = join(folder, "w.data");
    await expect(withDirectWeightsWrite(target, () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(readdirSync(folder)).toEqual([]);
  });

  it("publishes an empty regular file when the save never opens the pipe", async () => {
    const folder = join(dir, "unused");
    (await import("node:fs")).mkdirSync(folder, { recursive: true });
    const target = join(folder, "w.data");
    await expect(withDirectWeightsWrite(target, () => Promise.resolve(42))).resolves.toBe(42);
    expect(lstatSync(target).isFile()).toBe(true);
    expect(readdirSync(folder)).toEqual(["w.data"]);
  });
});
