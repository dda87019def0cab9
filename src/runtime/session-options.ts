// Our session options and their translation to onnxruntime-node's. Every field is a lever measured in
// docs/performance.md; defaults are the measured best on a 2-core AVX2 CPU.
import { createHash } from "node:crypto";
import { availableParallelism, cpus } from "node:os";
import type ort from "onnxruntime-node";
import type { Device } from "./backends.js";

export type OptimizationLevel = "disabled" | "basic" | "extended" | "all";
export type Precision = "float32" | "float16";

export interface SessionOptions {
  /** intra-op threads; default = available cores. */
  threads?: number;
  /** inter-op threads (parallel branches); default 1 (sequential execution). */
  interOpThreads?: number;
  /** Execution provider; default "cpu". */
  device?: Device;
  /** ONNX Runtime graph optimisation level; default "all". */
  optimizationLevel?: OptimizationLevel;
  /** Weight prepacking for GEMM/conv (faster runs, a second weight copy while the session is created); default true. */
  prepacking?: boolean;
  /**
   * Save the optimised model (weights in a side file) in the model's cache folder and load it next time instead
   * of optimising again. Default off: it pays only where optimising is slow (level "all" on a full-size UNet, ≈ 6 s),
   * and the pipeline opens the UNet at level "extended" (docs/performance.md). CPU provider only.
   */
  cacheOptimized?: boolean;
  /**
   * ONNX Runtime's CPU memory arena (keeps freed activation blocks for reuse); default false: with it, every session
   * keeps its peak activations reserved after a run (whole SD1.5 pipeline 6.6 GiB peak vs 4.7 GiB without, same CPU time).
   */
  memArena?: boolean;
  /**
   * CPU: convert float16/bfloat16 checkpoint weights once into a float32 file in the model's cache folder and load
   * that (no in-graph Cast), so the first load never holds 16-bit and folded float32 copies together. Default true;
   * other devices always keep the 16-bit weights + Cast.
   */
  float32Weights?: boolean;
  /**
   * Compute precision. "float16" runs the graph's float16 variant (graph/halve.ts: 16-bit weights as stored, float16
   * activations; inputs and outputs stay float32 for the caller). Default "float32" on CPU, "float16" on cuda/webgpu.
   * Models that overflow in float16 opt out with "float32" (the VAE, as diffusers' `force_upcast`).
   */
  precision?: Precision;
  /** Write ONNX Runtime's per-node profile (JSON) to files starting with this prefix; see Session.endProfiling. */
  profilePrefix?: string;
}

export type ResolvedOptions = Required<Omit<SessionOptions, "profilePrefix">> & Pick<SessionOptions, "profilePrefix">;

export function resolveOptions(opts: SessionOptions): ResolvedOptions {
  const device = opts.device ?? "cpu";
  return {
    threads: opts.threads ?? availableParallelism(),
    interOpThreads: opts.interOpThreads ?? 1,
    device,
    optimizationLevel: opts.optimizationLevel ?? "all",
    prepacking: opts.prepacking ?? true,
    cacheOptimized: opts.cacheOptimized ?? false,
    memArena: opts.memArena ?? false,
    float32Weights: opts.float32Weights ?? true,
    precision: opts.precision ?? (device === "cpu" ? "float32" : "float16"),
    ...(opts.profilePrefix !== undefined && { profilePrefix: opts.profilePrefix }),
  };
}

/** Cache key part: sessions differing in any option are different native sessions. */
export function optionsKey(o: ResolvedOptions): string {
  return [o.device, o.threads, o.interOpThreads, o.optimizationLevel, o.prepacking ? "pp" : "nopp", o.cacheOptimized ? "opt" : "", o.memArena ? "arena" : "", o.float32Weights ? "f32w" : "", o.precision, o.profilePrefix ?? ""].join("/");
}

/**
 * File names of the optimised model and its weights inside a model's cache folder: one pair per level and CPU model,
 * since level "all" rewrites convolutions into NCHWc blocks sized for this CPU's vector width.
 */
export function optimizedNames(o: ResolvedOptions): { model: string; weights: string } {
  const cpu = createHash("sha256").update(`${process.arch}\0${cpus()[0]?.model ?? ""}`).digest("hex").slice(0, 8);
  const base = `opt-${o.optimizationLevel}-${cpu}`;
  return { model: `${base}.onnx`, weights: `${base}.data` };
}

/**
 * onnxruntime-node options. `saveOptimizedTo`: write the optimised model there (initializers ≥ 1 KiB go to its
 * weights file beside it). `isOptimized`: the model file already is an optimised one, so skip optimising.
 */
export function toOrtOptions(o: ResolvedOptions, saving: { saveOptimizedTo?: string; isOptimized?: boolean } = {}): ort.InferenceSession.SessionOptions {
  const session: Record<string, string> = {};
  if (!o.prepacking) session["disable_prepacking"] = "1";
  if (saving.saveOptimizedTo !== undefined) {
    session["optimized_model_external_initializers_file_name"] = optimizedNames(o).weights;
    session["optimized_model_external_initializers_min_size_in_bytes"] = "1024";
  }
  return {
    executionProviders: [o.device],
    graphOptimizationLevel: saving.isOptimized === true ? "disabled" : o.optimizationLevel,
    intraOpNumThreads: o.threads,
    interOpNumThreads: o.interOpThreads,
    executionMode: o.interOpThreads > 1 ? "parallel" : "sequential",
    enableCpuMemArena: o.memArena,
    ...(saving.saveOptimizedTo !== undefined && { optimizedModelFilePath: saving.saveOptimizedTo }),
    ...(o.profilePrefix !== undefined && { enableProfiling: true, profileFilePrefix: o.profilePrefix }),
    // saving at level "all" warns that the result is hardware-specific; the file name carries the CPU model
    ...(saving.saveOptimizedTo !== undefined && { logSeverityLevel: 3 as const }),
    ...(Object.keys(session).length > 0 && { extra: { session } }),
  };
}
