// LDM UNet keys (`input_blocks.4.1.proj_in.weight`, under `model.diffusion_model.`) ↔ diffusers UNet2DConditionModel
// keys (`down_blocks.1.attentions.0.proj_in.weight`). The same block arithmetic as diffusers' converter: a down level
// has `layersPerBlock` resnets (+ one downsampler except the last level), an up level `layersPerBlock + 1`.

export interface UNetLayout {
  readonly layersPerBlock: number;
  /** Per up level (diffusers order), whether it has attentions; needed only for diffusers → LDM (upsampler slot). */
  readonly upAttention?: readonly boolean[];
}

const TOP: readonly [string, string][] = [
  ["time_embed.0.", "time_embedding.linear_1."],
  ["time_embed.2.", "time_embedding.linear_2."],
  ["label_emb.0.0.", "add_embedding.linear_1."],
  ["label_emb.0.2.", "add_embedding.linear_2."],
  ["input_blocks.0.0.", "conv_in."],
  ["out.0.", "conv_norm_out."],
  ["out.2.", "conv_out."],
];

const RESNET: readonly [string, string][] = [
  ["in_layers.0.", "norm1."],
  ["in_layers.2.", "conv1."],
  ["emb_layers.1.", "time_emb_proj."],
  ["out_layers.0.", "norm2."],
  ["out_layers.3.", "conv2."],
  ["skip_connection.", "conv_shortcut."],
];

function rename(rest: string, table: readonly [string, string][], from: 0 | 1): string | undefined {
  const to = from === 0 ? 1 : 0;
  for (const row of table) if (rest.startsWith(row[from])) return row[to] + rest.slice(row[from].length);
  return undefined;
}

function prefixed(prefix: string, rest: string | undefined): string | undefined {
  return rest === undefined ? undefined : `${prefix}.${rest}`;
}

/** LDM UNet key (without `model.diffusion_model.`) → diffusers key; undefined when it is not a UNet weight we know. */
export function ldmToDiffusersUnet(key: string, layout: UNetLayout): string | undefined {
  const top = rename(key, TOP, 0);
  if (top !== undefined) return top;
  const n = layout.layersPerBlock + 1;
  let m = /^input_blocks\.(\d+)\.(\d+)\.(.+)$/.exec(key);
  if (m) {
    const i = Number(m[1]), j = Number(m[2]), rest = m[3]!;
    const b = Math.floor((i - 1) / n), l = (i - 1) % n;
    if (l === layout.layersPerBlock) {
      return j === 0 && rest.startsWith("op.") ? `down_blocks.${b}.downsamplers.0.conv.${rest.slice(3)}` : undefined;
    }
    if (j === 0) return prefixed(`down_blocks.${b}.resnets.${l}`, rename(rest, RESNET, 0));
    return j === 1 ? `down_blocks.${b}.attentions.${l}.${rest}` : undefined;
  }
  m = /^middle_block\.(\d+)\.(.+)$/.exec(key);
  if (m) {
    const j = Number(m[1]), rest = m[2]!;
    if (j === 1) return `mid_block.attentions.0.${rest}`;
    return j === 0 || j === 2 ? prefixed(`mid_block.resnets.${j / 2}`, rename(rest, RESNET, 0)) : undefined;
  }
  m = /^output_blocks\.(\d+)\.(\d+)\.(.+)$/.exec(key);
  if (m) {
    const i = Number(m[1]), j = Number(m[2]), rest = m[3]!;
    const b = Math.floor(i / n), l = i % n;
    if (j === 0) return prefixed(`up_blocks.${b}.resnets.${l}`, rename(rest, RESNET, 0));
    if (rest.startsWith("conv.")) return `up_blocks.${b}.upsamplers.0.${rest}`;
    return j === 1 ? `up_blocks.${b}.attentions.${l}.${rest}` : undefined;
  }
  return undefined;
}

/** diffusers UNet key → LDM key (without `model.diffusion_model.`). */
export function diffusersToLdmUnet(name: string, layout: UNetLayout): string | undefined {
  const top = rename(name, TOP, 1);
  if (top !== undefined) return top;
  const n = layout.layersPerBlock + 1;
  let m = /^down_blocks\.(\d+)\.(resnets|attentions|downsamplers)\.(\d+)\.(.+)$/.exec(name);
  if (m) {
    const b = Number(m[1]), kind = m[2], l = Number(m[3]), rest = m[4]!;
    if (kind === "downsamplers") return rest.startsWith("conv.") ? `input_blocks.${(b + 1) * n}.0.op.${rest.slice(5)}` : undefined;
    const i = 1 + b * n + l;
    return kind === "resnets" ? prefixed(`input_blocks.${i}.0`, rename(rest, RESNET, 1)) : `input_blocks.${i}.1.${rest}`;
  }
  m = /^mid_block\.(resnets|attentions)\.(\d+)\.(.+)$/.exec(name);
  if (m) {
    const l = Number(m[2]), rest = m[3]!;
    return m[1] === "attentions" ? `middle_block.1.${rest}` : prefixed(`middle_block.${l * 2}`, rename(rest, RESNET, 1));
  }
  m = /^up_blocks\.(\d+)\.(resnets|attentions|upsamplers)\.(\d+)\.(.+)$/.exec(name);
  if (m) {
    const b = Number(m[1]), kind = m[2], l = Number(m[3]), rest = m[4]!;
    if (kind === "upsamplers") {
      const slot = layout.upAttention?.[b] === true ? 2 : 1;
      return `output_blocks.${b * n + layout.layersPerBlock}.${slot}.${rest}`;
    }
    const i = b * n + l;
    return kind === "resnets" ? prefixed(`output_blocks.${i}.0`, rename(rest, RESNET, 1)) : `output_blocks.${i}.1.${rest}`;
  }
  return undefined;
}
