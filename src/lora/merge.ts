// Merges LoRAs into a model: for each patched weight W, W' = W + Σ weight·(alpha/rank)·up·down (kohya's
// merge_to_sd_model; alpha defaults to rank). Conv LoRAs (LoCon) flatten to [out, in·k·k]. The merged weights are
// NEW memory tensors overlaid on the base WeightSource, which is never modified; unmatched modules are reported.
import type { Component, PipelineModel } from "../checkpoint/model.js";
import { memoryWeight, readWeight, type WeightRef, type WeightSource } from "../checkpoint/weights.js";
import { numel, toFloat16, toFloat32, type Tensor } from "../tensor/tensor.js";
import { TargetTable, type ComponentName, type Target } from "./names.js";
import type { LoRAFile } from "./read.js";

export interface LoRAApplication {
  readonly lora: LoRAFile;
  /** Strength, −4..4. */
  readonly weight: number;
}

export interface MergeReport {
  /** Per LoRA path: modules merged and the stems that matched no weight (or could not be merged). */
  readonly perLora: { path: string; merged: number; unmatched: string[]; skipped: { stem: string; reason: string }[] }[];
  readonly patchedWeights: number;
}

/** The base source with some weights replaced. */
export class OverlayWeights implements WeightSource {
  constructor(private readonly base: WeightSource, private readonly overlay: ReadonlyMap<string, WeightRef>) {}
  has(name: string): boolean {
    return this.overlay.has(name) || this.base.has(name);
  }
  get(name: string): WeightRef {
    return this.overlay.get(name) ?? this.base.get(name);
  }
  names(): string[] {
    return this.base.names();
  }
}

export const MAX_LORA_WEIGHT = 4;

/** Δ += scale · up[out, r] @ down[r, in] in float64 accumulation. */
function addLowRank(delta: Float64Array, up: Float32Array, down: Float32Array, out: number, rank: number, inner: number, scale: number): void {
  for (let o = 0; o < out; o++) {
    const row = o * inner;
    for (let r = 0; r < rank; r++) {
      const u = up[o * rank + r]! * scale;
      if (u === 0) continue;
      const d = r * inner;
      for (let i = 0; i < inner; i++) delta[row + i]! += u * down[d + i]!;
    }
  }
}

export function mergeLoras(model: PipelineModel, loras: readonly LoRAApplication[]): { model: PipelineModel; report: MergeReport } {
  const table = new TargetTable(model);
  const deltas = new Map<string, { target: Target; delta: Float64Array }>();
  const perLora: MergeReport["perLora"] = [];
  for (const { lora, weight } of loras) {
    if (!(Math.abs(weight) <= MAX_LORA_WEIGHT)) throw new RangeError(`LoRA weight ${weight} outside −${MAX_LORA_WEIGHT}..${MAX_LORA_WEIGHT}`);
    const entry = { path: lora.path, merged: 0, unmatched: [] as string[], skipped: [] as { stem: string; reason: string }[] };
    perLora.push(entry);
    for (const m of lora.modules) {
      const target = table.resolve(m.stem);
      if (target === undefined) {
        entry.unmatched.push(m.stem);
        continue;
      }
      if (m.midKey !== undefined) {
        entry.skipped.push({ stem: m.stem, reason: "LoCon lora_mid (CP decomposition) is not supported" });
        continue;
      }
      const base = model[target.component]!.weights.get(target.weight);
      const down = toFloat32(lora.file.read(m.downKey));
      const up = toFloat32(lora.file.read(m.upKey));
      const rank = down.shape[0]!;
      const out = up.shape[0]!;
      const inner = numel(down.shape) / rank;
      if (numel(up.shape) !== out * rank || out * inner !== numel(base.shape)) {
        entry.skipped.push({ stem: m.stem, reason: `shapes up [${up.shape}] · down [${down.shape}] do not make weight [${base.shape}]` });
        continue;
      }
      const alpha = m.alphaKey !== undefined ? toFloat32(lora.file.read(m.alphaKey)).data[0]! : rank;
      const key = `${target.component}/${target.weight}`;
      let d = deltas.get(key);
      if (d === undefined) {
        d = { target, delta: new Float64Array(out * inner) };
        deltas.set(key, d);
      }
      addLowRank(d.delta, up.data, down.data, out, rank, inner, weight * (alpha / rank));
      entry.merged++;
    }
  }
  const overlays: Record<ComponentName, Map<string, WeightRef>> = { unet: new Map(), textEncoder: new Map(), textEncoder2: new Map() };
  for (const { target, delta } of deltas.values()) {
    const base = model[target.component]!.weights.get(target.weight);
    const w = toFloat32(readWeight(base));
    const merged = new Float32Array(w.data.length);
    for (let i = 0; i < merged.length; i++) merged[i] = w.data[i]! + delta[i]!;
    const t: Tensor = { dtype: "float32", shape: base.shape, data: merged };
    overlays[target.component].set(target.weight, memoryWeight(target.weight, base.dtype === "float16" ? toFloat16(t) : t));
  }
  const patch = (c: Component | undefined, name: ComponentName): Component | undefined =>
    c === undefined || overlays[name].size === 0 ? c : { config: c.config, weights: new OverlayWeights(c.weights, overlays[name]) };
  const unet = patch(model.unet, "unet");
  const textEncoder = patch(model.textEncoder, "textEncoder");
  const textEncoder2 = patch(model.textEncoder2, "textEncoder2");
  return {
    model: { ...model, ...(unet && { unet }), ...(textEncoder && { textEncoder }), ...(textEncoder2 && { textEncoder2 }) },
    report: { perLora, patchedWeights: deltas.size },
  };
}
