// The only importer of onnxruntime-node. A Session runs a built graph on our Tensor type (int64 ids included).
// Sessions are cached by model hash and options, and reference-counted: release() frees the native session when
// its last user lets go. With `cacheOptimized` (off by default), the first session of a model saves ONNX Runtime's
// optimised graph in the model's cache folder and later sessions load that instead of optimising again.
import { existsSync, readdirSync, renameSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import ort from "onnxruntime-node";
import type { BuiltGraph } from "../graph/index.js";
import { tensor, type DType, type Tensor } from "../tensor/tensor.js";
import { assertDevice } from "./backends.js";
import { withDirectWeightsWrite } from "./direct-save.js";
import { materialize, modelDir, modelHash, removeSidecars, writeSidecars } from "./model-cache.js";
import { optimizedNames, optionsKey, resolveOptions, toOrtOptions, type ResolvedOptions, type SessionOptions } from "./session-options.js";

export type { SessionOptions } from "./session-options.js";

export interface Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  /** Stops profiling (sessions opened with `profilePrefix`); ONNX Runtime writes the JSON file then. Returns its path. */
  endProfiling(): string;
  release(): Promise<void>;
}

const ORT_TYPES: Partial<Record<DType, ort.Tensor.Type>> = {
  float32: "float32",
  float16: "float16",
  float64: "float64",
  int8: "int8",
  uint8: "uint8",
  int16: "int16",
  int32: "int32",
  int64: "int64",
  bool: "bool",
};

function toOrt(name: string, t: Tensor): ort.Tensor {
  const type = ORT_TYPES[t.dtype];
  if (type === undefined) throw new Error(`runtime: input ${name}: dtype ${t.dtype} is not supported by onnxruntime-node`);
  return new ort.Tensor(type, t.data as ort.Tensor.DataType, [...t.shape]);
}

function fromOrt(t: ort.Tensor): Tensor {
  const dtype = Object.entries(ORT_TYPES).find(([, v]) => v === t.type)?.[0] as DType | undefined;
  if (dtype === undefined) throw new Error(`runtime: output type ${t.type} is not supported`);
  return tensor(dtype, t.dims, t.data as Tensor["data"]);
}

interface Entry {
  session: Promise<ort.InferenceSession>;
  refs: number;
}

const cache = new Map<string, Entry>();

/** Number of native sessions currently open (for tests and diagnostics). */
export function openSessionCount(): number {
  return cache.size;
}

/** The saved optimised model this session would load, when `cacheOptimized` applies and it exists. */
function savedOptimized(hash: string, o: ResolvedOptions): string | undefined {
  if (o.device !== "cpu" || !o.cacheOptimized) return undefined;
  const path = join(modelDir(hash), optimizedNames(o).model);
  return existsSync(path) ? path : undefined;
}

/**
 * Opens the native session: from the saved optimised model when there is one, else from the built model. Once an
 * optimised model is saved, the float32 sidecars it was built from are deleted (it holds its own weights file);
 * another optimisation level or CPU writes them again.
 */
async function openNative(modelPath: string, o: ResolvedOptions, onSaved: () => void): Promise<ort.InferenceSession> {
  if (o.device !== "cpu") {
    return ort.InferenceSession.create(modelPath, toOrtOptions(o)).catch((e: unknown) => {
      const why = e instanceof Error ? e.message : String(e);
      throw new Error(`runtime: could not open a ${o.device} session (is there a ${o.device === "webgpu" ? "WebGPU adapter: GPU and Vulkan/Metal/D3D12 driver" : "CUDA 12 GPU and driver"} on this machine?): ${why}`);
    });
  }
  if (!o.cacheOptimized) return ort.InferenceSession.create(modelPath, toOrtOptions(o));
  const names = optimizedNames(o);
  const optimized = join(dirname(modelPath), names.model);
  if (existsSync(optimized)) return ort.InferenceSession.create(optimized, toOrtOptions(o, { isOptimized: true }));
  // save under a temporary name, publish by rename once ONNX Runtime has written both files
  const tmp = `${optimized}.${process.pid}.tmp`;
  let session: ort.InferenceSession;
  try {
    const weights = join(dirname(modelPath), names.weights);
    session = await withDirectWeightsWrite(weights, () => ort.InferenceSession.create(modelPath, toOrtOptions(o, { saveOptimizedTo: tmp })));
  } catch (e) {
    // Another process sharing the cache may have saved the optimised model meanwhile and deleted the float32 sidecars
    // this load was reading: its optimised model holds the same weights.
    if (existsSync(optimized)) return ort.InferenceSession.create(optimized, toOrtOptions(o, { isOptimized: true }));
    throw e;
  }
  if (existsSync(tmp)) {
    renameSync(tmp, optimized);
    onSaved();
  }
  return session;
}

/** ONNX Runtime names profiles `<prefix>_<date-time>.json`; the newest one is the file just written. */
function newestProfile(prefix: string | undefined): string {
  if (prefix === undefined) throw new Error("runtime: the session was not opened with profilePrefix");
  const dir = dirname(prefix);
  const files = readdirSync(dir)
    .filter((f) => f.startsWith(`${basename(prefix)}_`) && f.endsWith(".json"))
    .map((f) => join(dir, f));
  const newest = files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (newest === undefined) throw new Error(`runtime: no profile written for ${prefix}`);
  return newest;
}

export async function createSession(built: BuiltGraph, opts: SessionOptions = {}): Promise<Session> {
  const o = resolveOptions(opts);
  if (o.device !== "cpu") assertDevice(o.device);
  const halved = o.precision === "float16" ? built.halved?.() : undefined;
  const graph = halved ?? (o.device === "cpu" && o.float32Weights && built.widened !== undefined ? built.widened() : built);
  const hash = await modelHash(graph);
  const key = `${hash}/${optionsKey(o)}`;
  let entry = cache.get(key);
  if (entry === undefined) {
    const modelPath = materialize(graph, hash);
    const sidecars = savedOptimized(hash, o) === undefined ? writeSidecars(graph, hash) : Promise.resolve();
    const session = sidecars.then(() => openNative(modelPath, o, () => removeSidecars(graph, hash)));
    entry = { session, refs: 0 };
    cache.set(key, entry);
    session.catch(() => cache.delete(key));
  }
  entry.refs++;
  const mine = entry;
  const native = await mine.session;
  let released = false;
  return {
    inputNames: native.inputNames,
    outputNames: native.outputNames,
    async run(feeds) {
      if (released) throw new Error("runtime: session already released");
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = toOrt(name, t);
      const out = await native.run(ortFeeds);
      const result: Record<string, Tensor> = {};
      for (const [name, t] of Object.entries(out)) result[name] = fromOrt(t);
      return result;
    },
    endProfiling() {
      native.endProfiling();
      return newestProfile(o.profilePrefix);
    },
    async release() {
      if (released) return;
      released = true;
      if (--mine.refs === 0 && cache.get(key) === mine) {
        cache.delete(key);
        await native.release();
      }
    },
  };
}
