import { describe, expect, it } from "vitest";
import { unetConfigFromJson } from "../src/models/unet.js";
import { vaeConfigFromJson } from "../src/models/vae.js";
import { attentionCoreFlops, clipTextFlops, convFlops, linearFlops, unetFlops, vaeDecoderFlops } from "./flops.js";
import { median, summarize } from "./stats.js";

// A UNet with no attention: every term is a convolution or a per-sample linear, so FLOPs scale with pixels × batch.
const plainUNet = unetConfigFromJson({
  block_out_channels: [32, 64],
  down_block_types: ["DownBlock2D", "DownBlock2D"],
  up_block_types: ["UpBlock2D", "UpBlock2D"],
  mid_block_type: null,
  layers_per_block: 1,
  in_channels: 4,
  out_channels: 4,
  cross_attention_dim: 32,
  norm_num_groups: 8,
});

const crossAttnUNet = unetConfigFromJson({
  block_out_channels: [32, 64],
  down_block_types: ["CrossAttnDownBlock2D", "DownBlock2D"],
  up_block_types: ["UpBlock2D", "CrossAttnUpBlock2D"],
  layers_per_block: 1,
  in_channels: 4,
  out_channels: 4,
  cross_attention_dim: 32,
  attention_head_dim: 2,
  norm_num_groups: 8,
});

describe("flops", () => {
  it("counts one multiply-add as two FLOPs", () => {
    expect(convFlops(3, 5, 3, 7)).toBe(2 * 3 * 5 * 9 * 7);
    expect(linearFlops(4, 6, 10)).toBe(2 * 4 * 6 * 10);
    expect(attentionCoreFlops(16, 8, 32)).toBe(2 * (2 * 16 * 8 * 32)); // q·kᵀ and p·v
  });

  it("scales a conv-only UNet linearly with batch and pixels (time MLP aside)", () => {
    const at = (batch: number, side: number) => unetFlops(plainUNet, { batch, height: side, width: side, contextTokens: 77 });
    const timeMlp = linearFlops(32, 128, 1) + linearFlops(128, 128, 1);
    const tembProj = [32, 64, 64, 64, 32, 32].reduce((s, c) => s + linearFlops(128, c, 1), 0); // one per resnet: 2 down, 4 up
    const fixed = timeMlp + tembProj;
    expect(at(2, 16)).toBe(2 * at(1, 16));
    expect(at(1, 32) - fixed).toBe(4 * (at(1, 16) - fixed));
  });

  it("grows self-attention quadratically in tokens", () => {
    const at = (side: number) => unetFlops(crossAttnUNet, { batch: 1, height: side, width: side, contextTokens: 77 });
    const plain = (side: number) => unetFlops(plainUNet, { batch: 1, height: side, width: side, contextTokens: 77 });
    expect(at(16)).toBeGreaterThan(plain(16));
    // the difference between doubling ratios comes from the [HW, HW] attention terms (×16 instead of ×4)
    expect(at(32) / at(16)).toBeGreaterThan(plain(32) / plain(16));
  });

  it("counts a one-level VAE decoder term by term", () => {
    const config = vaeConfigFromJson({ block_out_channels: [8], layers_per_block: 1, latent_channels: 4, norm_num_groups: 4, mid_block_add_attention: false });
    const px = 6 * 5;
    const resnet = convFlops(8, 8, 3, px) * 2;
    const want = convFlops(4, 4, 1, px) + convFlops(4, 8, 3, px) + 2 * resnet + 2 * resnet + convFlops(8, 3, 3, px);
    expect(vaeDecoderFlops(config, { batch: 1, height: 6, width: 5 })).toBe(want);
  });

  it("counts CLIP layers as projections + attention + MLP", () => {
    const config = { vocabSize: 10, hiddenSize: 8, intermediateSize: 32, numHiddenLayers: 2, numAttentionHeads: 2, maxPositionEmbeddings: 5, hiddenAct: "quick_gelu" as const, layerNormEps: 1e-5, eosTokenId: 2 };
    const layer = linearFlops(8, 32, 5) + attentionCoreFlops(5, 5, 8) + 2 * linearFlops(8, 32, 5);
    expect(clipTextFlops(config, { batch: 3, tokens: 5 })).toBe(3 * 2 * layer);
  });
});

describe("stats", () => {
  it("takes the median of odd and even run counts", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    const r = summarize("x", [2000, 1000, 3000], 4e9);
    expect([r.medianMs, r.minMs, r.gflops]).toEqual([2000, 1000, 2]);
  });
});
