// Loaded pipelines keyed by (model AIR, VAE AIR, LoRA AIRs + weights), least recently used first out, bounded by a
// count and an optional weight-byte budget. Base models (open safetensors headers) are cached separately and shared:
// a LoRA variant is a merged overlay on its base (mergeLoras never modifies the base), so adding or dropping LoRAs
// never reloads or corrupts the base. An entry in use is never evicted; eviction releases its ONNX sessions, closes its
// LoRA files, and closes the base model's files once no pipeline uses it.
import { totalmem } from "node:os";
import { loadModel } from "../checkpoint/load.js";
import { compactsTextEncoders } from "../conditioning/index.js";
import { closeModel, type PipelineModel } from "../checkpoint/model.js";
import { loraTrainingInfo, mergeLoras, openLora, type LoRAFile, type LoRATrainingInfo } from "../lora/index.js";
import { openPipeline, type Pipeline } from "../pipeline/pipeline.js";
import type { Device } from "../runtime/index.js";
import type { CatalogEntry } from "../catalog/types.js";
import type { LoRARequest } from "./types.js";

export interface ModelPoolConfig {
  /** Loaded pipelines kept (default 2). */
  readonly maxPipelines?: number;
  /** Upper bound on the summed weight bytes of loaded pipelines (default: none). */
  readonly memoryBudgetBytes?: number;
  /** ONNX Runtime intra-op threads per session (default: all cores). */
  readonly threads?: number;
  /** ONNX Runtime execution provider of every pipeline (default cpu). */
  readonly device?: Device;
}

export interface PoolRequest {
  readonly model: CatalogEntry;
  readonly vae?: CatalogEntry;
  readonly loras: readonly LoRARequest[];
}

export interface LoadedLora {
  readonly entry: CatalogEntry;
  readonly weight: number;
  /** What the LoRA's metadata says about its training (clipSkip in our unit). */
  readonly training: LoRATrainingInfo;
  /** Modules merged into the model (0 = the LoRA matched nothing: wrong family or unknown naming). */
  readonly merged: number;
}

export interface PoolLease {
  readonly pipeline: Pipeline;
  readonly loras: readonly LoadedLora[];
  /** Gives the pipeline back to the pool; call exactly once. */
  release(): void;
}

export interface PoolStats {
  /** `encoderRuns`: text-encoder session runs of that pipeline so far (one per encoder per encode call). */
  readonly pipelines: readonly { key: string; users: number; bytes: number; isLoading: boolean; encoderRuns: number }[];
  readonly baseModels: number;
  /** Pipelines opened since the pool was created (a reuse does not count). */
  readonly loads: number;
}

interface Loaded {
  readonly pipeline: Pipeline;
  readonly loras: readonly LoadedLora[];
  readonly loraFiles: readonly LoRAFile[];
}

interface Entry {
  readonly key: string;
  /** AIR of the checkpoint (model affinity looks at it). */
  readonly air: string;
  readonly baseKey: string;
  readonly loading: Promise<Loaded>;
  loaded?: Loaded;
  users: number;
  bytes: number;
}

interface Base {
  readonly model: PipelineModel;
  refs: number;
}

/** The pool key: model, VAE and LoRAs (order kept: merging sums deltas, but the order is what the client sent). */
export function poolKey(req: PoolRequest): string {
  const loras = req.loras.map((l) => `${l.entry.air}*${l.weight}`).join(",");
  return `${req.model.air}|vae=${req.vae?.air ?? ""}|lora=${loras}`;
}

/**
 * Memory the model's weights take once loaded on CPU: 16-bit weights are widened to float32 (twice their file size),
 * except SDXL's text encoders, which stay 16-bit (compactTextEncoders). What the memory budget counts.
 */
export function modelWeightBytes(model: PipelineModel): number {
  const compactEncoders = compactsTextEncoders(model.family);
  let total = 0;
  for (const c of [model.unet, model.vae, model.textEncoder, model.textEncoder2]) {
    if (c === undefined) continue;
    const widens = !(compactEncoders && (c === model.textEncoder || c === model.textEncoder2));
    for (const name of c.weights.names()) {
      const w = c.weights.get(name);
      const stored = w.bytes.kind === "file" ? w.bytes.byteLength : w.bytes.tensor.data.byteLength;
      total += widens && (w.dtype === "float16" || w.dtype === "bfloat16") ? stored * 2 : stored;
    }
  }
  return total;
}

/**
 * The budget when none is configured: 75 % of the machine's memory for loaded weights, leaving the rest for
 * activations (≈ 1 GiB for SDXL at 1024² with tiled VAE decode) and the system; so two SDXL models on a 24 GiB machine
 * take turns instead of exhausting it.
 */
export function defaultMemoryBudgetBytes(): number {
  return Math.floor(0.75 * totalmem());
}

const nextTick = () => new Promise<void>((r) => setImmediate(r));

export class ModelPool {
  private readonly entries = new Map<string, Entry>(); // insertion order = least recently used first
  private readonly bases = new Map<string, Base>();
  private readonly maxPipelines: number;
  private loads = 0;
  private isClosed = false;

  constructor(private readonly config: ModelPoolConfig = {}) {
    this.maxPipelines = Math.max(1, config.maxPipelines ?? 2);
  }

  /** A loaded pipeline for the request, reusing a cached one when the key matches (concurrent callers share a load). */
  async acquire(req: PoolRequest): Promise<PoolLease> {
    if (this.isClosed) throw Object.assign(new Error("The model pool is closed."), { code: "serviceUnavailable" });
    const key = poolKey(req);
    let entry = this.entries.get(key);
    if (entry !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, entry); // most recently used
    } else {
      const baseKey = `${req.model.path}|${req.vae?.path ?? ""}`;
      const e: Entry = { key, air: req.model.air, baseKey, users: 0, bytes: 0, loading: undefined as unknown as Promise<Loaded> };
      (e as { loading: Promise<Loaded> }).loading = this.load(e, req);
      this.entries.set(key, e);
      entry = e;
    }
    entry.users++;
    try {
      const loaded = await entry.loading;
      let isReleased = false;
      const owner = entry;
      return {
        pipeline: loaded.pipeline,
        loras: loaded.loras,
        release: () => {
          if (isReleased) return;
          isReleased = true;
          owner.users--;
          void this.evict(undefined, this.isClosed);
        },
      };
    } catch (err) {
      entry.users--;
      throw err;
    }
  }

  stats(): PoolStats {
    return {
      pipelines: [...this.entries.values()].map((e) => ({
        key: e.key,
        users: e.users,
        bytes: e.bytes,
        isLoading: e.loaded === undefined,
        encoderRuns: e.loaded?.pipeline.conditioner.runs ?? 0,
      })),
      baseModels: this.bases.size,
      loads: this.loads,
    };
  }

  /** AIRs of the checkpoints loaded or loading (any VAE/LoRA variant), most recently used first, without repeats. */
  heldModels(): string[] {
    return [...new Set([...this.entries.values()].reverse().map((e) => e.air))];
  }

  /** Releases every idle pipeline now and refuses new work; pipelines still in use are released when given back. */
  async close(): Promise<void> {
    this.isClosed = true;
    await this.evict(undefined, true);
  }

  private async load(entry: Entry, req: PoolRequest): Promise<Loaded> {
    await nextTick(); // never on the caller's synchronous path
    const base = this.baseFor(entry.baseKey, req);
    base.refs++;
    const loraFiles: LoRAFile[] = [];
    try {
      let model = base.model;
      const loras: LoadedLora[] = [];
      if (req.loras.length > 0) {
        for (const l of req.loras) loraFiles.push(openLora(l.entry.path));
        await nextTick();
        const merged = mergeLoras(base.model, req.loras.map((l, i) => ({ lora: loraFiles[i]!, weight: l.weight })));
        model = merged.model;
        req.loras.forEach((l, i) => {
          const f = loraFiles[i]!;
          loras.push({ entry: l.entry, weight: l.weight, training: loraTrainingInfo(f.metadata), merged: merged.report.perLora[i]?.merged ?? 0 });
        });
      }
      entry.bytes = modelWeightBytes(model);
      const budget = this.config.memoryBudgetBytes;
      if (budget !== undefined && entry.bytes > budget) {
        throw Object.assign(new Error(`${req.model.air} needs about ${mib(entry.bytes)} MiB of weights, more than the server's model memory budget (${mib(budget)} MiB).`), { code: "modelNotReady" });
      }
      await this.evict(entry);
      const { threads, device } = this.config;
      const pipeline = await openPipeline(model, { ...(threads !== undefined && { threads }), ...(device !== undefined && { device }) });
      this.loads++;
      const loaded: Loaded = { pipeline, loras, loraFiles };
      entry.loaded = loaded;
      return loaded;
    } catch (err) {
      this.entries.delete(entry.key);
      for (const f of loraFiles) f.file.close();
      this.unrefBase(entry.baseKey);
      throw err;
    }
  }

  private baseFor(baseKey: string, req: PoolRequest): Base {
    let base = this.bases.get(baseKey);
    if (base === undefined) {
      // Headers only: tensors stay in the files until ONNX Runtime maps them.
      const { model } = loadModel(req.model.path, req.vae !== undefined ? { vaePath: req.vae.path } : {});
      base = { model, refs: 0 };
      this.bases.set(baseKey, base);
    }
    return base;
  }

  private unrefBase(baseKey: string): void {
    const base = this.bases.get(baseKey);
    if (base === undefined) return;
    base.refs--;
    if (base.refs <= 0) {
      this.bases.delete(baseKey);
      closeModel(base.model);
    }
  }

  /** Drops idle loaded entries, oldest first, until `incoming` fits (count and budget); `all` drops every idle one. */
  private async evict(incoming: Entry | undefined, all = false): Promise<void> {
    const budget = this.config.memoryBudgetBytes;
    const over = () => {
      if (all) return true;
      const live = [...this.entries.values()];
      const bytes = live.reduce((s, e) => s + e.bytes, 0);
      return live.length > this.maxPipelines || (budget !== undefined && bytes > budget);
    };
    const drops: Promise<void>[] = [];
    for (const e of [...this.entries.values()]) {
      if (!over()) break;
      if (e === incoming || e.users > 0 || e.loaded === undefined) continue;
      this.entries.delete(e.key);
      drops.push(this.drop(e, e.loaded));
    }
    await Promise.all(drops);
  }

  private async drop(entry: Entry, loaded: Loaded): Promise<void> {
    try {
      await loaded.pipeline.release();
    } finally {
      for (const f of loaded.loraFiles) f.file.close();
      this.unrefBase(entry.baseKey);
    }
  }
}

function mib(bytes: number): number {
  return Math.ceil(bytes / 2 ** 20);
}
