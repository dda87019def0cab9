// Tensor shapes of each component from its config (diffusers names), and the same model in the original
// single-file layout (LDM / SGM / OpenCLIP names). Used to write header-only fixtures, random-weight checkpoints
// for benchmarks and the built-in demo model — never to load real weights.
import type { JsonConfig } from "../model.js";
import { diffusersToLdmUnet } from "./unet.js";
import { diffusersToLdmVae, isVaeAttentionLinear } from "./vae.js";

export type Shapes = Map<string, number[]>;

const perLevel = (v: unknown, n: number): number[] => (Array.isArray(v) ? v.map(Number) : Array.from({ length: n }, () => Number(v ?? 1)));

function resnet(s: Shapes, p: string, cin: number, cout: number, temb?: number): void {
  s.set(`${p}.norm1.weight`, [cin]).set(`${p}.norm1.bias`, [cin]);
  s.set(`${p}.conv1.weight`, [cout, cin, 3, 3]).set(`${p}.conv1.bias`, [cout]);
  if (temb !== undefined) s.set(`${p}.time_emb_proj.weight`, [cout, temb]).set(`${p}.time_emb_proj.bias`, [cout]);
  s.set(`${p}.norm2.weight`, [cout]).set(`${p}.norm2.bias`, [cout]);
  s.set(`${p}.conv2.weight`, [cout, cout, 3, 3]).set(`${p}.conv2.bias`, [cout]);
  if (cin !== cout) s.set(`${p}.conv_shortcut.weight`, [cout, cin, 1, 1]).set(`${p}.conv_shortcut.bias`, [cout]);
}

function transformer(s: Shapes, p: string, c: number, depth: number, ctx: number, linear: boolean): void {
  const proj = linear ? [c, c] : [c, c, 1, 1];
  s.set(`${p}.norm.weight`, [c]).set(`${p}.norm.bias`, [c]);
  s.set(`${p}.proj_in.weight`, proj).set(`${p}.proj_in.bias`, [c]);
  for (let k = 0; k < depth; k++) {
    const b = `${p}.transformer_blocks.${k}`;
    for (const n of ["norm1", "norm2", "norm3"]) s.set(`${b}.${n}.weight`, [c]).set(`${b}.${n}.bias`, [c]);
    for (const [a, kv] of [["attn1", c], ["attn2", ctx]] as const) {
      s.set(`${b}.${a}.to_q.weight`, [c, c]).set(`${b}.${a}.to_k.weight`, [c, kv]).set(`${b}.${a}.to_v.weight`, [c, kv]);
      s.set(`${b}.${a}.to_out.0.weight`, [c, c]).set(`${b}.${a}.to_out.0.bias`, [c]);
    }
    s.set(`${b}.ff.net.0.proj.weight`, [8 * c, c]).set(`${b}.ff.net.0.proj.bias`, [8 * c]);
    s.set(`${b}.ff.net.2.weight`, [c, 4 * c]).set(`${b}.ff.net.2.bias`, [c]);
  }
  s.set(`${p}.proj_out.weight`, proj).set(`${p}.proj_out.bias`, [c]);
}

export function unetShapes(config: JsonConfig): Shapes {
  const s: Shapes = new Map();
  const ch = (config["block_out_channels"] as number[]).map(Number);
  const n = ch.length, lpb = Number(config["layers_per_block"]), ctx = Number(config["cross_attention_dim"]);
  const linear = config["use_linear_projection"] === true;
  const depth = perLevel(config["transformer_layers_per_block"], n);
  const attn = (config["down_block_types"] as string[]).map((t) => t.startsWith("CrossAttn"));
  const temb = ch[0]! * 4;
  s.set("conv_in.weight", [ch[0]!, Number(config["in_channels"]), 3, 3]).set("conv_in.bias", [ch[0]!]);
  s.set("time_embedding.linear_1.weight", [temb, ch[0]!]).set("time_embedding.linear_1.bias", [temb]);
  s.set("time_embedding.linear_2.weight", [temb, temb]).set("time_embedding.linear_2.bias", [temb]);
  const adm = config["projection_class_embeddings_input_dim"];
  if (typeof adm === "number") {
    s.set("add_embedding.linear_1.weight", [temb, adm]).set("add_embedding.linear_1.bias", [temb]);
    s.set("add_embedding.linear_2.weight", [temb, temb]).set("add_embedding.linear_2.bias", [temb]);
  }
  let cin = ch[0]!;
  for (let b = 0; b < n; b++) {
    for (let l = 0; l < lpb; l++) {
      resnet(s, `down_blocks.${b}.resnets.${l}`, l === 0 ? cin : ch[b]!, ch[b]!, temb);
      if (attn[b]) transformer(s, `down_blocks.${b}.attentions.${l}`, ch[b]!, depth[b]!, ctx, linear);
    }
    if (b < n - 1) s.set(`down_blocks.${b}.downsamplers.0.conv.weight`, [ch[b]!, ch[b]!, 3, 3]).set(`down_blocks.${b}.downsamplers.0.conv.bias`, [ch[b]!]);
    cin = ch[b]!;
  }
  const cl = ch[n - 1]!;
  resnet(s, "mid_block.resnets.0", cl, cl, temb);
  if (config["mid_block_type"] !== "UNetMidBlock2D") transformer(s, "mid_block.attentions.0", cl, depth[n - 1]!, ctx, linear);
  resnet(s, "mid_block.resnets.1", cl, cl, temb);
  const rc = [...ch].reverse(), rd = [...depth].reverse(), ra = [...attn].reverse();
  let prev = rc[0]!;
  for (let b = 0; b < n; b++) {
    const out = rc[b]!, input = rc[Math.min(b + 1, n - 1)]!;
    for (let l = 0; l <= lpb; l++) {
      const skip = l === lpb ? input : out;
      resnet(s, `up_blocks.${b}.resnets.${l}`, (l === 0 ? prev : out) + skip, out, temb);
      if (ra[b]) transformer(s, `up_blocks.${b}.attentions.${l}`, out, rd[b]!, ctx, linear);
    }
    if (b < n - 1) s.set(`up_blocks.${b}.upsamplers.0.conv.weight`, [out, out, 3, 3]).set(`up_blocks.${b}.upsamplers.0.conv.bias`, [out]);
    prev = out;
  }
  s.set("conv_norm_out.weight", [ch[0]!]).set("conv_norm_out.bias", [ch[0]!]);
  s.set("conv_out.weight", [Number(config["out_channels"]), ch[0]!, 3, 3]).set("conv_out.bias", [Number(config["out_channels"])]);
  return s;
}

function vaeMid(s: Shapes, side: string, c: number): void {
  resnet(s, `${side}.mid_block.resnets.0`, c, c);
  const a = `${side}.mid_block.attentions.0`;
  s.set(`${a}.group_norm.weight`, [c]).set(`${a}.group_norm.bias`, [c]);
  for (const p of ["to_q", "to_k", "to_v", "to_out.0"]) s.set(`${a}.${p}.weight`, [c, c]).set(`${a}.${p}.bias`, [c]);
  resnet(s, `${side}.mid_block.resnets.1`, c, c);
}

export function vaeShapes(config: JsonConfig): Shapes {
  const s: Shapes = new Map();
  const ch = (config["block_out_channels"] as number[]).map(Number);
  const n = ch.length, lpb = Number(config["layers_per_block"]), lat = Number(config["latent_channels"] ?? 4);
  const cl = ch[n - 1]!;
  s.set("encoder.conv_in.weight", [ch[0]!, Number(config["in_channels"] ?? 3), 3, 3]).set("encoder.conv_in.bias", [ch[0]!]);
  let cin = ch[0]!;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < lpb; j++) resnet(s, `encoder.down_blocks.${i}.resnets.${j}`, j === 0 ? cin : ch[i]!, ch[i]!);
    if (i < n - 1) s.set(`encoder.down_blocks.${i}.downsamplers.0.conv.weight`, [ch[i]!, ch[i]!, 3, 3]).set(`encoder.down_blocks.${i}.downsamplers.0.conv.bias`, [ch[i]!]);
    cin = ch[i]!;
  }
  vaeMid(s, "encoder", cl);
  s.set("encoder.conv_norm_out.weight", [cl]).set("encoder.conv_norm_out.bias", [cl]);
  s.set("encoder.conv_out.weight", [2 * lat, cl, 3, 3]).set("encoder.conv_out.bias", [2 * lat]);
  s.set("quant_conv.weight", [2 * lat, 2 * lat, 1, 1]).set("quant_conv.bias", [2 * lat]);
  s.set("post_quant_conv.weight", [lat, lat, 1, 1]).set("post_quant_conv.bias", [lat]);
  s.set("decoder.conv_in.weight", [cl, lat, 3, 3]).set("decoder.conv_in.bias", [cl]);
  vaeMid(s, "decoder", cl);
  const rc = [...ch].reverse();
  let prev = rc[0]!;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= lpb; j++) resnet(s, `decoder.up_blocks.${i}.resnets.${j}`, j === 0 ? prev : rc[i]!, rc[i]!);
    if (i < n - 1) s.set(`decoder.up_blocks.${i}.upsamplers.0.conv.weight`, [rc[i]!, rc[i]!, 3, 3]).set(`decoder.up_blocks.${i}.upsamplers.0.conv.bias`, [rc[i]!]);
    prev = rc[i]!;
  }
  s.set("decoder.conv_norm_out.weight", [ch[0]!]).set("decoder.conv_norm_out.bias", [ch[0]!]);
  s.set("decoder.conv_out.weight", [Number(config["out_channels"] ?? 3), ch[0]!, 3, 3]).set("decoder.conv_out.bias", [Number(config["out_channels"] ?? 3)]);
  return s;
}

export function clipShapes(config: JsonConfig): Shapes {
  const s: Shapes = new Map();
  const h = Number(config["hidden_size"]), inter = Number(config["intermediate_size"]);
  s.set("text_model.embeddings.token_embedding.weight", [Number(config["vocab_size"]), h]);
  s.set("text_model.embeddings.position_embedding.weight", [Number(config["max_position_embeddings"]), h]);
  for (let k = 0; k < Number(config["num_hidden_layers"]); k++) {
    const p = `text_model.encoder.layers.${k}`;
    for (const q of ["q_proj", "k_proj", "v_proj", "out_proj"]) s.set(`${p}.self_attn.${q}.weight`, [h, h]).set(`${p}.self_attn.${q}.bias`, [h]);
    for (const ln of ["layer_norm1", "layer_norm2"]) s.set(`${p}.${ln}.weight`, [h]).set(`${p}.${ln}.bias`, [h]);
    s.set(`${p}.mlp.fc1.weight`, [inter, h]).set(`${p}.mlp.fc1.bias`, [inter]);
    s.set(`${p}.mlp.fc2.weight`, [h, inter]).set(`${p}.mlp.fc2.bias`, [h]);
  }
  s.set("text_model.final_layer_norm.weight", [h]).set("text_model.final_layer_norm.bias", [h]);
  if ((config["architectures"] as string[] | undefined)?.includes("CLIPTextModelWithProjection")) s.set("text_projection.weight", [Number(config["projection_dim"]), h]);
  return s;
}

/** An OpenCLIP text tower in original names (`layers` resblocks, packed in_proj, text_projection [width, embed]). */
export function openClipShapes(config: JsonConfig, prefix: string, layers: number, embedDim: number): Shapes {
  const s: Shapes = new Map();
  const h = Number(config["hidden_size"]), inter = Number(config["intermediate_size"]);
  s.set(`${prefix}token_embedding.weight`, [Number(config["vocab_size"]), h]);
  s.set(`${prefix}positional_embedding`, [Number(config["max_position_embeddings"]), h]);
  for (let k = 0; k < layers; k++) {
    const p = `${prefix}transformer.resblocks.${k}`;
    s.set(`${p}.ln_1.weight`, [h]).set(`${p}.ln_1.bias`, [h]).set(`${p}.ln_2.weight`, [h]).set(`${p}.ln_2.bias`, [h]);
    s.set(`${p}.attn.in_proj_weight`, [3 * h, h]).set(`${p}.attn.in_proj_bias`, [3 * h]);
    s.set(`${p}.attn.out_proj.weight`, [h, h]).set(`${p}.attn.out_proj.bias`, [h]);
    s.set(`${p}.mlp.c_fc.weight`, [inter, h]).set(`${p}.mlp.c_fc.bias`, [inter]);
    s.set(`${p}.mlp.c_proj.weight`, [h, inter]).set(`${p}.mlp.c_proj.bias`, [h]);
  }
  s.set(`${prefix}ln_final.weight`, [h]).set(`${prefix}ln_final.bias`, [h]);
  s.set(`${prefix}text_projection`, [h, embedDim]);
  s.set(`${prefix}logit_scale`, []);
  return s;
}

export interface SingleFileSpec {
  readonly family: "sd1" | "sd2" | "sdxl" | "sdxl-refiner";
  readonly unet: JsonConfig;
  readonly vae: JsonConfig;
  readonly textEncoder?: JsonConfig;
  readonly textEncoder2?: JsonConfig;
}

/** The whole checkpoint in its original single-file layout: key → shape, in file order. */
export function singleFileLayout(spec: SingleFileSpec): Shapes {
  const out: Shapes = new Map();
  const upAttention = (spec.unet["up_block_types"] as string[]).map((t) => t.startsWith("CrossAttn"));
  const layout = { layersPerBlock: Number(spec.unet["layers_per_block"]), upAttention };
  for (const [name, shape] of unetShapes(spec.unet)) out.set(`model.diffusion_model.${diffusersToLdmUnet(name, layout)}`, shape);
  const levels = (spec.vae["block_out_channels"] as number[]).length;
  for (const [name, shape] of vaeShapes(spec.vae)) {
    out.set(`first_stage_model.${diffusersToLdmVae(name, levels)}`, isVaeAttentionLinear(name) ? [...shape, 1, 1] : shape);
  }
  const hf = (config: JsonConfig, prefix: string) => {
    for (const [name, shape] of clipShapes(config)) out.set(prefix + name, shape);
  };
  const open = (config: JsonConfig, prefix: string, layers: number) => {
    for (const [k, shape] of openClipShapes(config, prefix, layers, Number(config["projection_dim"] ?? config["hidden_size"]))) out.set(k, shape);
  };
  if (spec.family === "sd1" && spec.textEncoder) hf(spec.textEncoder, "cond_stage_model.transformer.");
  if (spec.family === "sd2" && spec.textEncoder) open(spec.textEncoder, "cond_stage_model.model.", Number(spec.textEncoder["num_hidden_layers"]) + 1);
  if (spec.family === "sdxl") {
    if (spec.textEncoder) hf(spec.textEncoder, "conditioner.embedders.0.transformer.");
    if (spec.textEncoder2) open(spec.textEncoder2, "conditioner.embedders.1.model.", Number(spec.textEncoder2["num_hidden_layers"]));
  }
  if (spec.family === "sdxl-refiner" && spec.textEncoder2) open(spec.textEncoder2, "conditioner.embedders.0.model.", Number(spec.textEncoder2["num_hidden_layers"]));
  return out;
}
