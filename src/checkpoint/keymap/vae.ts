// LDM AutoencoderKL keys (`decoder.up.3.block.0.conv1.weight`, under `first_stage_model.`) ↔ diffusers AutoencoderKL
// keys (`decoder.up_blocks.0.resnets.0.conv1.weight`). LDM's decoder counts levels from the bottom, diffusers from the
// top, so `up.i` is `up_blocks.(levels − 1 − i)`. Mid-block attention q/k/v/proj_out are 1×1 convs in LDM and Linear
// in diffusers: the same bytes, shape [C, C, 1, 1] restated as [C, C] (see `isVaeAttentionLinear`).

const SIMPLE: readonly [string, string][] = [
  ["norm_out.", "conv_norm_out."],
  ["mid.block_1.", "mid_block.resnets.0."],
  ["mid.block_2.", "mid_block.resnets.1."],
  ["mid.attn_1.norm.", "mid_block.attentions.0.group_norm."],
  ["mid.attn_1.q.", "mid_block.attentions.0.to_q."],
  ["mid.attn_1.k.", "mid_block.attentions.0.to_k."],
  ["mid.attn_1.v.", "mid_block.attentions.0.to_v."],
  ["mid.attn_1.proj_out.", "mid_block.attentions.0.to_out.0."],
];

const fixShortcut = (s: string, from: string, to: string): string => (s.startsWith(from) ? to + s.slice(from.length) : s);

/** LDM VAE key (without `first_stage_model.`) → diffusers key. `levels` = number of block_out_channels. */
export function ldmToDiffusersVae(key: string, levels: number): string | undefined {
  if (/^(post_)?quant_conv\./.test(key)) return key;
  const m = /^(encoder|decoder)\.(.+)$/.exec(key);
  if (!m) return undefined;
  const side = m[1]!, rest = m[2]!;
  if (/^conv_(in|out)\./.test(rest)) return key;
  for (const [from, to] of SIMPLE) if (rest.startsWith(from)) return `${side}.${to}${rest.slice(from.length)}`;
  const b = /^(down|up)\.(\d+)\.(block\.(\d+)|downsample|upsample)\.(.+)$/.exec(rest);
  if (!b) return undefined;
  const i = Number(b[2]);
  const level = b[1] === "up" ? levels - 1 - i : i;
  const blocks = b[1] === "up" ? "up_blocks" : "down_blocks";
  if (b[3] === "downsample" || b[3] === "upsample") return `${side}.${blocks}.${level}.${b[3]}rs.0.${b[5]}`;
  return `${side}.${blocks}.${level}.resnets.${b[4]}.${fixShortcut(b[5]!, "nin_shortcut.", "conv_shortcut.")}`;
}

/** diffusers VAE key → LDM key (without `first_stage_model.`). */
export function diffusersToLdmVae(name: string, levels: number): string | undefined {
  if (/^(post_)?quant_conv\./.test(name)) return name;
  const m = /^(encoder|decoder)\.(.+)$/.exec(name);
  if (!m) return undefined;
  const side = m[1]!, rest = m[2]!;
  if (/^conv_(in|out)\./.test(rest)) return name;
  for (const [to, from] of SIMPLE) if (rest.startsWith(from)) return `${side}.${to}${rest.slice(from.length)}`;
  const b = /^(down|up)_blocks\.(\d+)\.(resnets\.(\d+)|downsamplers\.0|upsamplers\.0)\.(.+)$/.exec(rest);
  if (!b) return undefined;
  const level = Number(b[2]);
  const i = b[1] === "up" ? levels - 1 - level : level;
  if (b[3]!.startsWith("downsamplers")) return `${side}.down.${i}.downsample.${b[5]}`;
  if (b[3]!.startsWith("upsamplers")) return `${side}.up.${i}.upsample.${b[5]}`;
  return `${side}.${b[1]}.${i}.block.${b[4]}.${fixShortcut(b[5]!, "conv_shortcut.", "nin_shortcut.")}`;
}

/** diffusers VAE attention projections stored as 1×1 convs in LDM files. */
export function isVaeAttentionLinear(name: string): boolean {
  return /mid_block\.attentions\.0\.(to_q|to_k|to_v|to_out\.0)\.weight$/.test(name);
}
