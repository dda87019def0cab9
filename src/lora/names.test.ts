import { describe, expect, it } from "vitest";
import type { Component, PipelineModel } from "../checkpoint/model.js";
import { memoryWeight, WeightMap, type WeightRef } from "../checkpoint/weights.js";
import { float32 } from "../tensor/tensor.js";
import { loraTrainingInfo } from "./metadata.js";
import { TargetTable } from "./names.js";
import { splitLoraKey } from "./read.js";

function comp(names: string[], config: Record<string, unknown> = {}): Component {
  return { config, weights: new WeightMap(new Map<string, WeightRef>(names.map((n) => [n, memoryWeight(n, float32([1]))]))) };
}

const unetNames = [
  "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight",
  "down_blocks.1.resnets.0.conv1.weight",
  "up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_out.0.weight",
  "mid_block.attentions.0.proj_in.weight",
];
const model = (family: PipelineModel["family"]): PipelineModel => ({
  family,
  source: "test",
  format: "diffusers",
  unet: comp(unetNames, { layers_per_block: 2, up_block_types: ["UpBlock2D", "CrossAttnUpBlock2D"] }),
  textEncoder: comp(["text_model.encoder.layers.0.self_attn.k_proj.weight", "text_model.encoder.layers.0.mlp.fc1.weight"]),
  ...(family === "sdxl" && { textEncoder2: comp(["text_model.encoder.layers.0.self_attn.k_proj.weight", "text_projection.weight"]) }),
  files: [],
});

describe("LoRA module names → canonical weights", () => {
  const sd1 = new TargetTable(model("sd1"));
  const rows: [string, string | undefined, string][] = [
    ["lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q", "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight", "unet"],
    ["lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q", "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight", "unet"],
    ["lora_unet_input_blocks_4_0_in_layers_2", "down_blocks.1.resnets.0.conv1.weight", "unet"],
    ["lora_unet_output_blocks_5_1_transformer_blocks_0_attn2_to_out_0", "up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_out.0.weight", "unet"],
    ["lora_unet_middle_block_1_proj_in", "mid_block.attentions.0.proj_in.weight", "unet"],
    ["unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q", "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight", "unet"],
    ["unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_q_lora", "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight", "unet"],
    ["lora_te_text_model_encoder_layers_0_self_attn_k_proj", "text_model.encoder.layers.0.self_attn.k_proj.weight", "textEncoder"],
    ["text_encoder.text_model.encoder.layers.0.self_attn.to_k_lora", "text_model.encoder.layers.0.self_attn.k_proj.weight", "textEncoder"],
    ["lora_unet_nothing_here", undefined, ""],
  ];
  it.each(rows)("%s", (stem, weight, component) => {
    const t = sd1.resolve(stem);
    expect(t?.weight).toBe(weight);
    if (weight !== undefined) expect(t?.component).toBe(component);
  });
  it("SDXL kohya te1/te2 prefixes pick the right encoder", () => {
    const xl = new TargetTable(model("sdxl"));
    expect(xl.resolve("lora_te1_text_model_encoder_layers_0_self_attn_k_proj")?.component).toBe("textEncoder");
    expect(xl.resolve("lora_te2_text_model_encoder_layers_0_self_attn_k_proj")?.component).toBe("textEncoder2");
  });
  it("splits every supported suffix", () => {
    expect(splitLoraKey("a.b.lora_A.weight")).toEqual({ stem: "a.b", part: "down" });
    expect(splitLoraKey("a_b.lora_up.weight")).toEqual({ stem: "a_b", part: "up" });
    expect(splitLoraKey("x.alpha")).toEqual({ stem: "x", part: "alpha" });
    expect(splitLoraKey("x.lora_linear_layer.down.weight")).toEqual({ stem: "x", part: "down" });
    expect(splitLoraKey("x.weight")).toBeUndefined();
  });
});

describe("LoRA training metadata → our clipSkip", () => {
  it.each([
    [{ ss_clip_skip: "2", ss_base_model_version: "sd_v1" }, 1, "sd1"],
    [{ ss_clip_skip: "1", ss_base_model_version: "sd_v1" }, 0, "sd1"],
    [{ ss_clip_skip: "2", ss_base_model_version: "sdxl_base_v1-0" }, 0, "sdxl"],
    [{ ss_clip_skip: "2", "modelspec.architecture": "stable-diffusion-v2-768-v/lora" }, 0, "sd2"],
    [{ ss_clip_skip: "None", ss_base_model_version: "sd_v1" }, undefined, "sd1"],
  ])("%j → %s", (meta, clipSkip, family) => {
    const info = loraTrainingInfo(meta as Record<string, string>);
    expect(info.clipSkip).toBe(clipSkip);
    expect(info.family).toBe(family);
  });
});
