// Text-encoder keys of single files → transformers CLIPTextModel(WithProjection) keys.
// Two source layouts: HF-named (`cond_stage_model.transformer.text_model.*`, SD1 / SDXL CLIP-L) and OpenCLIP-named
// (`cond_stage_model.model.*` SD2, `conditioner.embedders.1.model.*` SDXL bigG). OpenCLIP packs q, k, v into one
// `attn.in_proj_weight` [3W, W] (rows q | k | v): each becomes a contiguous row range of the file (no copy).

/** How one canonical weight is made from a source tensor. */
export interface KeySource {
  readonly name: string;
  readonly key: string;
  /** Row range [start, start + count) of the source (split of a packed in_proj). */
  readonly rows?: { readonly start: number; readonly count: number };
  /** Stored transposed (OpenCLIP `text_projection` is [width, embed]; transformers wants [embed, width]). */
  readonly transpose?: boolean;
}

/** HF-named CLIP under `prefix` (e.g. `cond_stage_model.transformer.`); old files omit `text_model.`. */
export function hfClipSources(keys: readonly string[], prefix: string): KeySource[] {
  const out: KeySource[] = [];
  for (const key of keys) {
    if (!key.startsWith(prefix)) continue;
    let name = key.slice(prefix.length);
    if (!name.startsWith("text_model.") && !name.startsWith("text_projection")) name = `text_model.${name}`;
    if (name.endsWith("embeddings.position_ids")) continue; // a buffer, not a weight
    out.push({ name, key });
  }
  return out;
}

const OPENCLIP_BLOCK: readonly [string, string][] = [
  ["ln_1.", "layer_norm1."],
  ["ln_2.", "layer_norm2."],
  ["mlp.c_fc.", "mlp.fc1."],
  ["mlp.c_proj.", "mlp.fc2."],
  ["attn.out_proj.", "self_attn.out_proj."],
];

export interface OpenClipOptions {
  /** Resblocks to keep (SD2 drops the last: diffusers' 23-of-24 layers); default all. */
  readonly layers?: number;
  /** Map `text_projection` (SDXL bigG); SD2 ignores it. */
  readonly withProjection: boolean;
}

/** Number of `transformer.resblocks.N` in an OpenCLIP tower under `prefix`. */
export function openClipDepth(keys: readonly string[], prefix: string): number {
  let depth = 0;
  const re = new RegExp(`^${prefix.replace(/\./g, "\\.")}transformer\\.resblocks\\.(\\d+)\\.`);
  for (const k of keys) {
    const m = re.exec(k);
    if (m) depth = Math.max(depth, Number(m[1]) + 1);
  }
  return depth;
}

/** OpenCLIP-named tower under `prefix` (e.g. `cond_stage_model.model.`); `width` splits the packed q, k, v. */
export function openClipSources(keys: readonly string[], prefix: string, width: number, opts: OpenClipOptions): KeySource[] {
  const out: KeySource[] = [];
  const layers = opts.layers ?? openClipDepth(keys, prefix);
  for (const key of keys) {
    if (!key.startsWith(prefix)) continue;
    const rest = key.slice(prefix.length);
    if (rest === "token_embedding.weight") out.push({ name: "text_model.embeddings.token_embedding.weight", key });
    else if (rest === "positional_embedding") out.push({ name: "text_model.embeddings.position_embedding.weight", key });
    else if (rest.startsWith("ln_final.")) out.push({ name: `text_model.final_layer_norm.${rest.slice(9)}`, key });
    else if (rest === "text_projection" && opts.withProjection) out.push({ name: "text_projection.weight", key, transpose: true });
    const m = /^transformer\.resblocks\.(\d+)\.(.+)$/.exec(rest);
    if (!m || Number(m[1]) >= layers) continue;
    const layer = `text_model.encoder.layers.${m[1]}`, sub = m[2]!;
    const packed = /^attn\.in_proj_(weight|bias)$/.exec(sub);
    if (packed) {
      ["q", "k", "v"].forEach((p, i) => out.push({ name: `${layer}.self_attn.${p}_proj.${packed[1]}`, key, rows: { start: i * width, count: width } }));
      continue;
    }
    for (const [from, to] of OPENCLIP_BLOCK) if (sub.startsWith(from)) out.push({ name: `${layer}.${to}${sub.slice(from.length)}`, key });
  }
  return out;
}
