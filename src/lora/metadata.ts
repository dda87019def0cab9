// What a LoRA's `__metadata__` says about its training (kohya `ss_*`, `modelspec.*`), with the training clip skip
// converted to our clipSkip unit (docs/conventions.md; spec §5): kohya trains SD1/SD2 with A1111 numbering
// (N → N−1 for SD1); SDXL training ignores clip skip (always native penultimate) → 0.

export interface LoRATrainingInfo {
  readonly baseModel?: string;
  readonly family?: "sd1" | "sd2" | "sdxl";
  readonly networkDim?: number;
  readonly networkAlpha?: number;
  /** `ss_clip_skip` as written (A1111 numbering). */
  readonly trainingClipSkip?: number;
  /** Recommended clipSkip in our unit. */
  readonly clipSkip?: number;
  readonly title?: string;
}

function num(v: string | undefined): number | undefined {
  if (v === undefined || v === "None" || v === "") return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

export function familyFromBaseModel(base: string | undefined): LoRATrainingInfo["family"] {
  if (base === undefined) return undefined;
  const b = base.toLowerCase();
  if (b.includes("xl")) return "sdxl";
  if (b.includes("v2") || b.includes("sd2")) return "sd2"; // kohya sd_v2, sd_v2_768_v; modelspec stable-diffusion-v2-768-v
  if (b.includes("v1") || b.includes("sd1")) return "sd1"; // kohya sd_v1; modelspec stable-diffusion-v1
  return undefined;
}

export function loraTrainingInfo(metadata: Readonly<Record<string, string>>): LoRATrainingInfo {
  const baseModel = metadata["ss_base_model_version"] ?? metadata["modelspec.architecture"];
  const sdxlFlag = metadata["ss_sd_model_name"]?.toLowerCase().includes("xl") ?? false;
  const v2 = metadata["ss_v2"] === "True";
  const family = familyFromBaseModel(baseModel) ?? (v2 ? "sd2" : sdxlFlag ? "sdxl" : undefined);
  const trainingClipSkip = num(metadata["ss_clip_skip"]);
  let clipSkip: number | undefined;
  if (trainingClipSkip !== undefined) {
    clipSkip = family === "sdxl" ? 0 : family === "sd2" ? 0 : Math.max(0, trainingClipSkip - 1);
  }
  const networkDim = num(metadata["ss_network_dim"]);
  const networkAlpha = num(metadata["ss_network_alpha"]);
  const title = metadata["modelspec.title"] ?? metadata["ss_output_name"];
  return {
    ...(baseModel !== undefined && { baseModel }),
    ...(family !== undefined && { family }),
    ...(networkDim !== undefined && { networkDim }),
    ...(networkAlpha !== undefined && { networkAlpha }),
    ...(trainingClipSkip !== undefined && { trainingClipSkip }),
    ...(clipSkip !== undefined && { clipSkip }),
    ...(title !== undefined && { title }),
  };
}
