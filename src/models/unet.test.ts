import { afterAll, describe, expect, it } from "vitest";
import { goldenPath } from "../../test/helpers/golden.js";
import { loadComponentFolder, type Component } from "../checkpoint/model.js";
import type { SafetensorsFile } from "../checkpoint/safetensors.js";
import { createSession } from "../runtime/index.js";
import { float32 } from "../tensor/tensor.js";
import { buildUNetGraph, timestepFrequencies, unetConfigFromJson, unetPlan, UNET_INPUTS, UNET_OUTPUT, type UNetConfig } from "./unet.js";

const files: SafetensorsFile[] = [];
afterAll(() => {
  for (const f of files) f.close();
});

function golden(folder: string): Component {
  const c = loadComponentFolder(goldenPath("diffusion", folder), files);
  if (c === undefined) throw new Error(folder);
  return c;
}

describe("unetConfigFromJson", () => {
  it("applies diffusers 0.27.2 defaults to an empty config (the SD 1.x UNet)", () => {
    const c = unetConfigFromJson({});
    expect(c.blockOutChannels).toEqual([320, 640, 1280, 1280]);
    expect(c.downBlockTypes).toEqual(["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]);
    expect(c.upBlockTypes).toEqual(["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]);
    expect(c.numAttentionHeads).toEqual([8, 8, 8, 8]);
    expect(c.crossAttentionDim).toEqual([1280, 1280, 1280, 1280]);
    expect(c.layersPerBlock).toEqual([2, 2, 2, 2]);
    expect(c.transformerLayersPerBlock).toEqual([[1, 1], [1, 1], [1, 1], [1, 1]]);
    expect(c.reverseTransformerLayersPerBlock).toEqual([[1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1]]);
    expect(c.timeEmbeddingDim).toBe(1280);
    expect([c.inChannels, c.outChannels, c.normNumGroups, c.normEps, c.flipSinToCos, c.freqShift]).toEqual([4, 4, 32, 1e-5, true, 0]);
    expect([c.useLinearProjection, c.upcastAttention, c.addition]).toEqual([false, false, undefined]);
  });

  it("reads attention_head_dim as the head count per block (SD2 list) and SDXL's text_time fields", () => {
    const sd2 = unetConfigFromJson(golden("sd2/models/unet").config);
    expect(sd2.numAttentionHeads).toEqual([2, 4]);
    expect([sd2.useLinearProjection, sd2.upcastAttention]).toEqual([true, true]);
    const xl = unetConfigFromJson(golden("models/unet_sdxl").config);
    expect(xl.transformerLayersPerBlock).toEqual([[1, 1], [1, 1], [2, 2]]);
    expect(xl.reverseTransformerLayersPerBlock).toEqual([[2, 2, 2], [1, 1, 1], [1, 1, 1]]);
    expect(xl.addition).toEqual({ timeEmbedDim: 8, inputDim: 72 });
    expect(unetConfigFromJson(golden("img2img/models/unet_sd1_inpaint").config).inChannels).toBe(9);
  });

  it("rejects what the builder does not implement, naming the key", () => {
    expect(() => unetConfigFromJson({ class_embed_type: "timestep" })).toThrow(/class_embed_type/);
    expect(() => unetConfigFromJson({ time_cond_proj_dim: 256 })).toThrow(/time_cond_proj_dim/);
    expect(() => unetConfigFromJson({ addition_embed_type: "text_time" })).toThrow(/addition_time_embed_dim/);
    expect(() => unetConfigFromJson({ attention_head_dim: [8, 8] })).toThrow(/attention_head_dim/);
  });
});

describe("unetPlan", () => {
  // The plan's channels must be those of the stored weights: conv1 input = resnet input + skip, and a transformer
  // exactly where `attentions.j` weights exist, with as many transformer_blocks as its depth.
  it.each(["models/unet_sd1", "models/unet_sdxl", "sd2/models/unet", "img2img/models/unet_sd1_inpaint"])("agrees with the weights of %s", (folder) => {
    const c = golden(folder);
    const config: UNetConfig = unetConfigFromJson(c.config);
    const plan = unetPlan(config);
    const blocks = [...plan.down, ...(plan.mid ? [plan.mid] : []), ...plan.up];
    for (const block of blocks) {
      block.layers.forEach((layer, j) => {
        const conv1 = c.weights.get(`${block.prefix}.resnets.${j}.conv1.weight`).shape;
        expect(conv1.slice(0, 2), `${block.prefix}.resnets.${j}`).toEqual([layer.outChannels, layer.inChannels + layer.skipChannels]);
        const attn = `${block.prefix}.attentions.${j}`;
        expect(c.weights.has(`${attn}.norm.weight`), attn).toBe(layer.transformer !== undefined);
        if (layer.transformer !== undefined) {
          expect(c.weights.has(`${attn}.transformer_blocks.${layer.transformer.depth - 1}.norm1.weight`)).toBe(true);
          expect(c.weights.has(`${attn}.transformer_blocks.${layer.transformer.depth}.norm1.weight`)).toBe(false);
          expect(c.weights.get(`${attn}.transformer_blocks.0.attn2.to_k.weight`).shape[1]).toBe(layer.transformer.contextDim);
        }
      });
      expect(c.weights.has(`${block.prefix}.downsamplers.0.conv.weight`)).toBe(block.resample === "down");
      expect(c.weights.has(`${block.prefix}.upsamplers.0.conv.weight`)).toBe(block.resample === "up");
    }
  });
});

describe("timestepFrequencies", () => {
  it("is exp(-ln(10000) i / (half - shift)) in float32", () => {
    const f = timestepFrequencies(8, 1);
    expect(f.length).toBe(4);
    expect(f[0]).toBe(1);
    expect(f[3]).toBeCloseTo(Math.exp((-Math.log(10000) * 3) / 3), 6);
    expect(() => timestepFrequencies(7, 0)).toThrow(/odd/);
  });
});

describe("buildUNetGraph", () => {
  it("runs the 9-channel inpainting UNet with dynamic batch, H, W (odd sizes use diffusers' upsample_size) and S", async () => {
    const c = golden("img2img/models/unet_sd1_inpaint");
    const config = unetConfigFromJson(c.config);
    const session = await createSession(buildUNetGraph(config, c.weights));
    try {
      for (const [b, h, w, s] of [[2, 16, 16, 77], [1, 9, 13, 154]] as const) {
        const out = await session.run({
          [UNET_INPUTS.sample]: float32([b, 9, h, w], new Float32Array(b * 9 * h * w).map((_, i) => Math.sin(i))),
          [UNET_INPUTS.timestep]: float32([1], [500]),
          [UNET_INPUTS.encoderHiddenStates]: float32([b, s, 32], new Float32Array(b * s * 32).map((_, i) => Math.cos(i))),
        });
        const pred = out[UNET_OUTPUT]!;
        expect(pred.shape).toEqual([b, 4, h, w]);
        expect((pred.data as Float32Array).every(Number.isFinite)).toBe(true);
      }
    } finally {
      await session.release();
    }
  });
});
