// Single-file (LDM / SGM / OpenCLIP layout) checkpoints → PipelineModel under canonical diffusers names.
// Weights stay byte ranges of the file: packed q/k/v are row ranges, VAE 1×1-conv attention weights are restated
// as Linear. Only OpenCLIP's transposed text_projection becomes a memory tensor; bf16 files are upcast on read.
import { extname } from "node:path";
import { bfloat16ToFloat, numel, BYTES_PER_ELEMENT, type Tensor } from "../tensor/tensor.js";
import { detectCheckpoint, type Detection, type TextEncoderLayout } from "./detect.js";
import { hfClipSources, openClipSources, type KeySource } from "./keymap/clip.js";
import { familySchedulerConfig, type PredictionType } from "./keymap/scheduler-configs.js";
import { ldmToDiffusersUnet } from "./keymap/unet.js";
import { isVaeAttentionLinear, ldmToDiffusersVae } from "./keymap/vae.js";
import type { Component, JsonConfig, PipelineModel } from "./model.js";
import { SafetensorsFile } from "./safetensors.js";
import { readSidecars, type Sidecars } from "./sidecar.js";
import { WeightMap, fileWeight, memoryWeight, readWeight, type WeightRef, type WeightSource } from "./weights.js";

export type PredictionSource = "catalog" | "sidecar-config" | "sidecar-yaml" | "marker-key" | "metadata" | "default";

export interface SingleFileOptions {
  /** From a catalog entry; wins over everything the file and its sidecars say. */
  readonly predictionType?: PredictionType;
  /** Read sidecars (default true). */
  readonly sidecars?: boolean;
}

export interface SingleFileInfo {
  readonly path: string;
  readonly detection: Detection;
  /** Final component configs: shape-inferred, then yaml overrides, then `<basename>.config.json`. */
  readonly configs: Detection["configs"];
  readonly predictionType: PredictionType;
  readonly predictionSource: PredictionSource;
  readonly zeroTerminalSnr: boolean;
  readonly schedulerConfig?: JsonConfig;
  readonly sidecars: Sidecars;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface SingleFileModel {
  readonly model: PipelineModel;
  readonly info: SingleFileInfo;
  /** Tensors that mapped to nothing (EMA, schedule buffers, logit_scale, SD2's dropped resblock are not listed). */
  readonly unmappedKeys: string[];
}

export class CheckpointError extends Error {
  override readonly name = "CheckpointError";
  constructor(message: string, readonly code: "pickleRefused" | "unknownCheckpoint" | "notLoadable") {
    super(message);
  }
}

const PICKLE_EXTS = new Set([".ckpt", ".pt", ".pth", ".bin"]);

/** Refuses pickle containers: loading them executes code. */
export function assertSafetensors(path: string): void {
  if (PICKLE_EXTS.has(extname(path).toLowerCase())) {
    throw new CheckpointError(`${path}: ${extname(path)} files are Python pickles and are never loaded (unpickling runs code); convert it to .safetensors offline in a sandbox`, "pickleRefused");
  }
}

function predictionOf(file: { metadata: Readonly<Record<string, string>> }, det: Detection, side: Sidecars, opts: SingleFileOptions) {
  const pick = (): [PredictionType, PredictionSource] => {
    if (opts.predictionType !== undefined) return [opts.predictionType, "catalog"];
    const fromConfig = side.components?.scheduler?.["prediction_type"];
    if (fromConfig === "v_prediction" || fromConfig === "epsilon") return [fromConfig, "sidecar-config"];
    if (side.yaml?.parameterization !== undefined) return [side.yaml.parameterization === "v" ? "v_prediction" : "epsilon", "sidecar-yaml"];
    if (det.markers.vPred) return ["v_prediction", "marker-key"];
    const meta = file.metadata["modelspec.prediction_type"];
    if (meta !== undefined) return [meta === "v" || meta === "v_prediction" ? "v_prediction" : "epsilon", "metadata"];
    return ["epsilon", "default"];
  };
  const [predictionType, predictionSource] = pick();
  return { predictionType, predictionSource, zeroTerminalSnr: det.markers.ztsnr };
}

/** Detection + sidecars + prediction type, from the header only. */
export function singleFileInfo(file: SafetensorsFile, opts: SingleFileOptions = {}): SingleFileInfo {
  const det = detectCheckpoint(file);
  if (!det.ok) throw new CheckpointError(`${file.path}: ${det.message}`, "unknownCheckpoint");
  const side = opts.sidecars === false ? {} : readSidecars(file.path);
  const merge = (inferred: JsonConfig | undefined, yaml: JsonConfig | undefined, full: JsonConfig | undefined): JsonConfig | undefined =>
    inferred === undefined && full === undefined ? undefined : { ...inferred, ...yaml, ...full };
  const c = side.components;
  const configs: Detection["configs"] = {};
  const unet = merge(det.configs.unet, side.yaml?.unet, c?.unet);
  const vae = merge(det.configs.vae, side.yaml?.vae, c?.vae);
  const te = merge(det.configs.textEncoder, undefined, c?.textEncoder);
  const te2 = merge(det.configs.textEncoder2, undefined, c?.textEncoder2);
  if (unet && det.configs.unet) configs.unet = unet;
  if (vae && det.configs.vae) configs.vae = vae;
  if (te && det.configs.textEncoder) configs.textEncoder = te;
  if (te2 && det.configs.textEncoder2) configs.textEncoder2 = te2;
  const pred = predictionOf(file, det, side, opts);
  const schedulerConfig = det.family === undefined ? undefined : { ...familySchedulerConfig(det.family, pred.predictionType, pred.zeroTerminalSnr), ...c?.scheduler };
  return { path: file.path, detection: det, configs, ...pred, ...(schedulerConfig && { schedulerConfig }), sidecars: side, metadata: file.metadata };
}

const IGNORED = [
  /^model_ema\./,
  /^(betas|alphas_cumprod|alphas_cumprod_prev|sqrt_.*|log_one_minus_alphas_cumprod|posterior_.*|model_logvar|logvar|v_pred|ztsnr|edm_.*)$/,
  /\.logit_scale$/,
  /\.position_ids$/,
];

/** Upcasts bfloat16 weights to float32 memory tensors when read (ONNX Runtime CPU lacks bf16 kernels). */
class Bf16Upcast implements WeightSource {
  constructor(private readonly inner: WeightSource) {}
  has(name: string): boolean {
    return this.inner.has(name);
  }
  names(): string[] {
    return this.inner.names();
  }
  get(name: string): WeightRef {
    const ref = this.inner.get(name);
    if (ref.dtype !== "bfloat16") return ref;
    const src = readWeight(ref).data as Uint16Array;
    const out = new Float32Array(src.length);
    for (let i = 0; i < src.length; i++) out[i] = bfloat16ToFloat(src[i]!);
    return memoryWeight(name, { dtype: "float32", shape: ref.shape, data: out });
  }
}

function transpose2d(t: Tensor): Tensor {
  const [r, c] = t.shape as [number, number];
  const src = t.data as ArrayLike<number>;
  const out = new (t.data.constructor as new (n: number) => Float32Array)(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = src[i * c + j]!;
  return { dtype: t.dtype, shape: [c, r], data: out } as Tensor;
}

function sourceWeight(file: SafetensorsFile, s: KeySource): WeightRef {
  const info = file.info(s.key);
  if (s.transpose) return memoryWeight(s.name, transpose2d(file.read(s.key)));
  if (s.rows === undefined) return fileWeight(file, s.key, s.name);
  const rowBytes = numel(info.shape.slice(1)) * BYTES_PER_ELEMENT[info.dtype];
  const shape = [s.rows.count, ...info.shape.slice(1)];
  return fileWeight(file, s.key, s.name, shape, { start: s.rows.start * rowBytes, length: s.rows.count * rowBytes });
}

function textSources(keys: string[], t: TextEncoderLayout): KeySource[] {
  return t.kind === "hf" ? hfClipSources(keys, t.prefix) : openClipSources(keys, t.prefix, t.width, { layers: t.layers, withProjection: t.withProjection });
}

function component(config: JsonConfig, refs: Map<string, WeightRef>, label: string): Component {
  const map = new WeightMap(refs, label);
  const bf16 = [...refs.values()].some((r) => r.dtype === "bfloat16");
  return { config, weights: bf16 ? new Bf16Upcast(map) : map };
}

/** Loads a `.safetensors` single file; the returned model owns the open file. */
export function loadSingleFile(path: string, opts: SingleFileOptions = {}): SingleFileModel {
  assertSafetensors(path);
  const file = SafetensorsFile.open(path);
  try {
    const info = singleFileInfo(file, opts);
    const det = info.detection;
    if (!det.loadable || det.family === undefined) {
      throw new CheckpointError(`${path}: ${det.notLoadableReason ?? "not loadable"}`, "notLoadable");
    }
    const keys = file.names();
    const used = new Set<string>();
    const unetRefs = new Map<string, WeightRef>();
    const layout = { layersPerBlock: Number(info.configs.unet?.["layers_per_block"]) };
    for (const key of keys) {
      if (!key.startsWith(det.unetPrefix)) continue;
      const name = ldmToDiffusersUnet(key.slice(det.unetPrefix.length), layout);
      if (name === undefined) continue;
      unetRefs.set(name, fileWeight(file, key, name));
      used.add(key);
    }
    let vae: Component | undefined;
    if (det.vaePrefix !== undefined && info.configs.vae) {
      const refs = new Map<string, WeightRef>();
      const levels = (info.configs.vae["block_out_channels"] as number[]).length;
      for (const key of keys) {
        if (!key.startsWith(det.vaePrefix)) continue;
        const name = ldmToDiffusersVae(key.slice(det.vaePrefix.length), levels);
        if (name === undefined) continue;
        const shape = file.info(key).shape;
        refs.set(name, fileWeight(file, key, name, isVaeAttentionLinear(name) ? shape.slice(0, 2) : undefined));
        used.add(key);
      }
      vae = component(info.configs.vae, refs, `${path}:vae`);
    }
    const text = (t: TextEncoderLayout | undefined, config: JsonConfig | undefined, label: string): Component | undefined => {
      if (t === undefined || config === undefined) return undefined;
      const refs = new Map<string, WeightRef>();
      for (const s of textSources(keys, t)) {
        refs.set(s.name, sourceWeight(file, s));
        used.add(s.key);
      }
      // Ignored on purpose: SD2's last resblock (diffusers keeps 23 of 24) and its unused text_projection.
      for (const key of keys) if (key.startsWith(t.prefix) && (t.layers < t.fileLayers || !t.withProjection)) {
        const m = /transformer\.resblocks\.(\d+)\./.exec(key);
        if ((m && Number(m[1]) >= t.layers) || key.endsWith(".text_projection")) used.add(key);
      }
      return component(config, refs, `${path}:${label}`);
    };
    const textEncoder = text(det.textEncoder, info.configs.textEncoder, "text_encoder");
    const textEncoder2 = text(det.textEncoder2, info.configs.textEncoder2, "text_encoder_2");
    const unmappedKeys = keys.filter((k) => !used.has(k) && !IGNORED.some((re) => re.test(k)));
    const model: PipelineModel = {
      family: det.family,
      source: path,
      format: "single-file",
      unet: component(info.configs.unet!, unetRefs, `${path}:unet`),
      ...(vae && { vae }),
      ...(textEncoder && { textEncoder }),
      ...(textEncoder2 && { textEncoder2 }),
      ...(info.schedulerConfig && { schedulerConfig: info.schedulerConfig }),
      files: [file],
    };
    return { model, info, unmappedKeys };
  } catch (e) {
    file.close();
    throw e;
  }
}
