// detectCheckpoint(header): what a single-file checkpoint is, from tensor names and shapes only (the header),
// and the diffusers / transformers configs of its components as far as shapes tell. Detection is by UNet shapes
// first (robust to missing or extra text-encoder keys), then the text-encoder prefixes are located.
// Hyper-parameters shapes cannot tell (attention heads) take the family's published values; sidecars override.
import type { DType } from "../tensor/tensor.js";
import type { Family, JsonConfig } from "./model.js";
import { openClipDepth } from "./keymap/clip.js";
import { CLIP_BASE, FAMILY_SIZES, UNET_BASE, VAE_BASE, clipHeads, standardAttentionHeadDim } from "./keymap/standard-configs.js";

export type CheckpointArchitecture = "sd1x" | "sd2x" | "sdxl" | "sdxl-refiner" | "sd3" | "flux1" | "unknown";

export interface HeaderLike {
  readonly tensors: ReadonlyMap<string, { readonly shape: readonly number[]; readonly dtype: DType }>;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface TextEncoderLayout {
  /** Key prefix in the file (`cond_stage_model.transformer.`, `conditioner.embedders.1.model.` …). */
  readonly prefix: string;
  readonly kind: "hf" | "openclip";
  /** Resblocks in the file and layers kept (SD2 keeps all but the last). */
  readonly fileLayers: number;
  readonly layers: number;
  readonly width: number;
  readonly withProjection: boolean;
}

export interface Detection {
  readonly ok: true;
  readonly architecture: CheckpointArchitecture;
  readonly family?: Family;
  /** False for recognised architectures we do not run (SD3, FLUX). */
  readonly loadable: boolean;
  readonly notLoadableReason?: string;
  readonly inpainting: boolean;
  readonly unetPrefix: string;
  readonly vaePrefix?: string;
  readonly textEncoder?: TextEncoderLayout;
  readonly textEncoder2?: TextEncoderLayout;
  readonly configs: { unet?: JsonConfig; vae?: JsonConfig; textEncoder?: JsonConfig; textEncoder2?: JsonConfig };
  /** Most common tensor dtype, and counts per dtype. */
  readonly dtype: DType;
  readonly dtypes: Readonly<Partial<Record<DType, number>>>;
  readonly hasEma: boolean;
  /** `v_pred` / `ztsnr` marker keys (ComfyUI convention). */
  readonly markers: { readonly vPred: boolean; readonly ztsnr: boolean };
}

export interface DetectionFailure {
  readonly ok: false;
  readonly code: "unknownCheckpoint";
  readonly architecture: "unknown";
  /** The key detection looked for and did not find. */
  readonly missingKey: string;
  readonly message: string;
}

export type DetectResult = Detection | DetectionFailure;

const UNET = "model.diffusion_model.";
export const UNET_PROBE_KEY = `${UNET}input_blocks.0.0.weight`;

/** Header view over a plain name → shape table (fixtures, tools). */
export function headerFromShapes(table: Record<string, readonly number[]>, dtype: DType = "float16", metadata: Record<string, string> = {}): HeaderLike {
  return { tensors: new Map(Object.entries(table).map(([k, shape]) => [k, { shape, dtype }])), metadata };
}

export function detectCheckpoint(header: HeaderLike): DetectResult {
  const keys = [...header.tensors.keys()];
  const shape = (k: string): readonly number[] | undefined => header.tensors.get(k)?.shape;
  const common = commonInfo(header, keys);
  const nonClip = detectNonClip(keys);
  if (nonClip !== undefined) {
    return { ok: true, ...nonClip, loadable: false, notLoadableReason: `${nonClip.architecture} is not a CLIP + UNet model; recognised, not runnable here`, inpainting: false, configs: {}, ...common };
  }
  const conv = shape(UNET_PROBE_KEY);
  if (conv === undefined) {
    return { ok: false, code: "unknownCheckpoint", architecture: "unknown", missingKey: UNET_PROBE_KEY, message: `not a Stable Diffusion UNet checkpoint: no tensor ${UNET_PROBE_KEY}` };
  }
  const unetShape = inferUnetShape(keys, shape);
  if ("missingKey" in unetShape) {
    return { ok: false, code: "unknownCheckpoint", architecture: "unknown", missingKey: unetShape.missingKey, message: `UNet layout not understood: no tensor ${unetShape.missingKey}` };
  }
  const has = (k: string): boolean => header.tensors.has(k);
  let family: Family;
  let textEncoder: TextEncoderLayout | undefined;
  let textEncoder2: TextEncoderLayout | undefined;
  if (unetShape.admInChannels !== undefined) {
    if (has("conditioner.embedders.1.model.ln_final.weight")) family = "sdxl";
    else if (has("conditioner.embedders.0.model.ln_final.weight")) family = "sdxl-refiner";
    else family = unetShape.contextDim === 1280 ? "sdxl-refiner" : "sdxl";
    if (family === "sdxl") {
      textEncoder = hfLayout(keys, shape, "conditioner.embedders.0.transformer.");
      textEncoder2 = openClipLayout(keys, shape, "conditioner.embedders.1.model.", false, true);
    } else {
      textEncoder2 = openClipLayout(keys, shape, "conditioner.embedders.0.model.", false, true);
    }
  } else if (has("cond_stage_model.model.token_embedding.weight")) {
    family = "sd2";
    textEncoder = openClipLayout(keys, shape, "cond_stage_model.model.", true, false);
  } else if (keys.some((k) => k.startsWith("cond_stage_model.transformer."))) {
    family = "sd1";
    textEncoder = hfLayout(keys, shape, "cond_stage_model.transformer.");
  } else {
    family = unetShape.contextDim === 1024 || unetShape.linearProjection ? "sd2" : "sd1";
  }
  const vaePrefix = ["first_stage_model.", "vae."].find((p) => has(`${p}encoder.conv_in.weight`) || has(`${p}decoder.conv_in.weight`));
  const configs: Detection["configs"] = { unet: unetConfig(family, unetShape, textEncoder2) };
  if (vaePrefix !== undefined) configs.vae = vaeConfig(family, keys, shape, vaePrefix);
  if (textEncoder) configs.textEncoder = clipConfig(textEncoder, family === "sd2" ? "gelu" : "quick_gelu", shape);
  if (textEncoder2) configs.textEncoder2 = clipConfig(textEncoder2, "gelu", shape);
  const architecture: CheckpointArchitecture = family === "sd1" ? "sd1x" : family === "sd2" ? "sd2x" : family;
  return {
    ok: true,
    architecture,
    family,
    loadable: true,
    inpainting: unetShape.inChannels === 9,
    unetPrefix: UNET,
    ...(vaePrefix !== undefined && { vaePrefix }),
    ...(textEncoder && { textEncoder }),
    ...(textEncoder2 && { textEncoder2 }),
    configs,
    ...common,
  };
}

function commonInfo(header: HeaderLike, keys: string[]) {
  const dtypes: Partial<Record<DType, number>> = {};
  for (const t of header.tensors.values()) dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
  const dtype = (Object.entries(dtypes).sort((a, b) => b[1] - a[1])[0]?.[0] ?? "float32") as DType;
  const hasEma = keys.filter((k) => k.startsWith("model_ema.")).length > 100;
  const markers = { vPred: header.tensors.has("v_pred"), ztsnr: header.tensors.has("ztsnr") };
  return { dtype, dtypes, hasEma, markers };
}

function detectNonClip(keys: string[]): { architecture: "sd3" | "flux1"; unetPrefix: string } | undefined {
  for (const prefix of [UNET, ""]) {
    if (keys.some((k) => k.startsWith(`${prefix}joint_blocks.0.`))) return { architecture: "sd3", unetPrefix: prefix };
    if (keys.some((k) => k.startsWith(`${prefix}double_blocks.0.img_attn.`))) return { architecture: "flux1", unetPrefix: prefix };
  }
  return undefined;
}

interface UnetShape {
  inChannels: number;
  outChannels: number;
  layersPerBlock: number;
  channels: number[];
  /** Transformer depth per level (0 = no attention). */
  depths: number[];
  midDepth: number;
  contextDim: number;
  linearProjection: boolean;
  admInChannels?: number;
}

type Shape = (k: string) => readonly number[] | undefined;

function countIndices(keys: string[], re: RegExp): number {
  let n = 0;
  for (const k of keys) {
    const m = re.exec(k);
    if (m) n = Math.max(n, Number(m[1]) + 1);
  }
  return n;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function inferUnetShape(keys: string[], shape: Shape): UnetShape | { missingKey: string } {
  const conv = shape(UNET_PROBE_KEY)!;
  const nInput = countIndices(keys, /^model\.diffusion_model\.input_blocks\.(\d+)\./);
  let firstDown = -1;
  for (let i = 1; i < nInput; i++) if (shape(`${UNET}input_blocks.${i}.0.op.weight`)) { firstDown = i; break; }
  const layersPerBlock = firstDown > 0 ? firstDown - 1 : nInput - 1;
  const levels = Math.round(nInput / (layersPerBlock + 1));
  const channels: number[] = [];
  const depths: number[] = [];
  let contextDim = 0;
  let linearProjection = false;
  for (let b = 0; b < levels; b++) {
    const i = 1 + b * (layersPerBlock + 1);
    const key = `${UNET}input_blocks.${i}.0.out_layers.3.weight`;
    const ch = shape(key)?.[0];
    if (ch === undefined) return { missingKey: key };
    channels.push(ch);
    const attn = `${UNET}input_blocks.${i}.1.`;
    depths.push(countIndices(keys, new RegExp(`^${escape(attn)}transformer_blocks\\.(\\d+)\\.`)));
    const projIn = shape(`${attn}proj_in.weight`);
    if (projIn) linearProjection = projIn.length === 2;
    const toK = shape(`${attn}transformer_blocks.0.attn2.to_k.weight`);
    if (toK) contextDim = toK[1]!;
  }
  const midDepth = countIndices(keys, /^model\.diffusion_model\.middle_block\.1\.transformer_blocks\.(\d+)\./);
  if (contextDim === 0) contextDim = shape(`${UNET}middle_block.1.transformer_blocks.0.attn2.to_k.weight`)?.[1] ?? 0;
  const adm = shape(`${UNET}label_emb.0.0.weight`)?.[1];
  return {
    inChannels: conv[1]!,
    outChannels: shape(`${UNET}out.2.weight`)?.[0] ?? 4,
    layersPerBlock,
    channels,
    depths,
    midDepth,
    contextDim,
    linearProjection,
    ...(adm !== undefined && { admInChannels: adm }),
  };
}

function unetConfig(family: Family, s: UnetShape, bigG: TextEncoderLayout | undefined): JsonConfig {
  const down = s.depths.map((d) => (d > 0 ? "CrossAttnDownBlock2D" : "DownBlock2D"));
  const up = [...s.depths].reverse().map((d) => (d > 0 ? "CrossAttnUpBlock2D" : "UpBlock2D"));
  // Levels without attention carry no depth; diffusers configs write the common depth when all attention levels
  // agree (SD1 1, refiner 4) and 1 otherwise (SDXL [1, 2, 10]).
  const attnDepths = [...s.depths.filter((d) => d > 0), ...(s.midDepth > 0 ? [s.midDepth] : [])];
  const uniform = attnDepths.every((d) => d === attnDepths[0]);
  const perLevel = uniform ? [attnDepths[0] ?? 1] : s.depths.map((d, i) => (d > 0 ? d : i === s.depths.length - 1 && s.midDepth > 0 ? s.midDepth : 1));
  const config: JsonConfig = {
    ...UNET_BASE,
    attention_head_dim: standardAttentionHeadDim(family, s.channels),
    block_out_channels: s.channels,
    cross_attention_dim: s.contextDim,
    down_block_types: down,
    in_channels: s.inChannels,
    layers_per_block: s.layersPerBlock,
    mid_block_type: s.midDepth > 0 ? "UNetMidBlock2DCrossAttn" : "UNetMidBlock2D",
    out_channels: s.outChannels,
    sample_size: FAMILY_SIZES[family].unetSampleSize,
    transformer_layers_per_block: uniform ? perLevel[0]! : perLevel,
    up_block_types: up,
    use_linear_projection: s.linearProjection,
  };
  if (family === "sd2") config["upcast_attention"] = true; // SD2.1; not readable from the file (no-op in float32)
  if (s.admInChannels !== undefined) {
    // adm = timeIds·dim + pooled; SDXL base has 6 size/crop ids, the refiner 5 (aesthetic score instead of target size).
    const timeIds = family === "sdxl-refiner" ? 5 : 6;
    const pooled = bigG?.withProjection ? projectionDim(bigG) : family === "sdxl-refiner" ? 1280 : 1280;
    config["addition_embed_type"] = "text_time";
    config["addition_time_embed_dim"] = Math.round((s.admInChannels - pooled) / timeIds);
    config["projection_class_embeddings_input_dim"] = s.admInChannels;
  }
  return config;
}

const projectionDims = new WeakMap<TextEncoderLayout, number>();
function projectionDim(t: TextEncoderLayout): number {
  return projectionDims.get(t) ?? t.width;
}

function vaeConfig(family: Family, keys: string[], shape: Shape, prefix: string): JsonConfig {
  const levels = countIndices(keys, new RegExp(`^${escape(prefix)}encoder\\.down\\.(\\d+)\\.`));
  const channels: number[] = [];
  for (let i = 0; i < levels; i++) channels.push(shape(`${prefix}encoder.down.${i}.block.0.conv1.weight`)?.[0] ?? 0);
  const sizes = FAMILY_SIZES[family];
  return {
    ...VAE_BASE,
    block_out_channels: channels,
    down_block_types: channels.map(() => "DownEncoderBlock2D"),
    force_upcast: sizes.forceUpcast,
    in_channels: shape(`${prefix}encoder.conv_in.weight`)?.[1] ?? 3,
    latent_channels: shape(`${prefix}post_quant_conv.weight`)?.[0] ?? 4,
    layers_per_block: countIndices(keys, new RegExp(`^${escape(prefix)}encoder\\.down\\.0\\.block\\.(\\d+)\\.`)),
    out_channels: shape(`${prefix}decoder.conv_out.weight`)?.[0] ?? 3,
    sample_size: sizes.vaeSampleSize,
    scaling_factor: sizes.scalingFactor,
    up_block_types: channels.map(() => "UpDecoderBlock2D"),
  };
}

function hfLayout(keys: string[], shape: Shape, prefix: string): TextEncoderLayout | undefined {
  const tm = keys.some((k) => k.startsWith(`${prefix}text_model.`)) ? `${prefix}text_model.` : prefix;
  const width = shape(`${tm}embeddings.token_embedding.weight`)?.[1];
  if (width === undefined) return undefined;
  const layers = countIndices(keys, new RegExp(`^${escape(tm)}encoder\\.layers\\.(\\d+)\\.`));
  return { prefix, kind: "hf", fileLayers: layers, layers, width, withProjection: shape(`${prefix}text_projection.weight`) !== undefined };
}

function openClipLayout(keys: string[], shape: Shape, prefix: string, dropLast: boolean, withProjection: boolean): TextEncoderLayout | undefined {
  const width = shape(`${prefix}token_embedding.weight`)?.[1];
  if (width === undefined) return undefined;
  const fileLayers = openClipDepth(keys, prefix);
  const layout: TextEncoderLayout = { prefix, kind: "openclip", fileLayers, layers: dropLast ? fileLayers - 1 : fileLayers, width, withProjection };
  const proj = shape(`${prefix}text_projection`);
  if (withProjection && proj) projectionDims.set(layout, proj[1]!);
  return layout;
}

function clipConfig(t: TextEncoderLayout, act: string, shape: Shape): JsonConfig {
  const tm = t.kind === "hf" ? (shape(`${t.prefix}text_model.embeddings.token_embedding.weight`) ? `${t.prefix}text_model.` : t.prefix) : "";
  const ffKey = t.kind === "hf" ? `${tm}encoder.layers.0.mlp.fc1.weight` : `${t.prefix}transformer.resblocks.0.mlp.c_fc.weight`;
  const vocabKey = t.kind === "hf" ? `${tm}embeddings.token_embedding.weight` : `${t.prefix}token_embedding.weight`;
  const posKey = t.kind === "hf" ? `${tm}embeddings.position_embedding.weight` : `${t.prefix}positional_embedding`;
  return {
    ...CLIP_BASE,
    architectures: [t.withProjection ? "CLIPTextModelWithProjection" : "CLIPTextModel"],
    hidden_act: act,
    hidden_size: t.width,
    intermediate_size: shape(ffKey)?.[0] ?? t.width * 4,
    max_position_embeddings: shape(posKey)?.[0] ?? 77,
    num_attention_heads: clipHeads(t.width),
    num_hidden_layers: t.layers,
    projection_dim: t.withProjection ? projectionDim(t) : t.width === 1024 ? 512 : t.width,
    vocab_size: shape(vocabKey)?.[0] ?? 49408,
  };
}
