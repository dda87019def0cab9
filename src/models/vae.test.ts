import { afterAll, describe, expect, it } from "vitest";
import { goldenPath } from "../../test/helpers/golden.js";
import { loadComponentFolder, type Component } from "../checkpoint/model.js";
import type { SafetensorsFile } from "../checkpoint/safetensors.js";
import { memoryWeight, readWeight, WeightMap, type WeightRef, type WeightSource } from "../checkpoint/weights.js";
import { createSession } from "../runtime/index.js";
import { float32, reshape } from "../tensor/tensor.js";
import { buildVAEDecoderGraph, buildVAEEncoderGraph, vaeConfigFromJson, VAE_DECODER_INPUT, VAE_DECODER_OUTPUT, VAE_ENCODER_INPUT, VAE_ENCODER_OUTPUTS } from "./vae.js";

const files: SafetensorsFile[] = [];
afterAll(() => {
  for (const f of files) f.close();
});

function golden(folder: string): Component {
  const c = loadComponentFolder(goldenPath("diffusion", folder), files);
  if (c === undefined) throw new Error(folder);
  return c;
}

describe("vaeConfigFromJson", () => {
  it("applies diffusers 0.27.2 defaults", () => {
    const c = vaeConfigFromJson({});
    expect(c.blockOutChannels).toEqual([64]);
    expect([c.inChannels, c.outChannels, c.latentChannels, c.layersPerBlock, c.normNumGroups]).toEqual([3, 3, 4, 1, 32]);
    expect([c.scalingFactor, c.shiftFactor, c.forceUpcast, c.midBlockAddAttention, c.useQuantConv]).toEqual([0.18215, 0, true, true, true]);
  });

  it("reads the golden SD1 / SDXL configs", () => {
    expect(vaeConfigFromJson(golden("models/vae_sd1").config).scalingFactor).toBe(0.18215);
    const xl = vaeConfigFromJson(golden("models/vae_sdxl").config);
    expect([xl.scalingFactor, xl.forceUpcast, xl.blockOutChannels]).toEqual([0.13025, true, [32, 64, 64, 64]]);
  });

  it("rejects block types it cannot build", () => {
    expect(() => vaeConfigFromJson({ block_out_channels: [32], down_block_types: ["AttnDownEncoderBlock2D"] })).toThrow(/down_block_types/);
  });
});

/** The same weights under other names / layouts, as older diffusers folders and LDM checkpoints store them. */
function legacyWeights(src: WeightSource, fourD: boolean): WeightSource {
  const renames: [string, string][] = [["to_q", "query"], ["to_k", "key"], ["to_v", "value"], ["to_out.0", "proj_attn"]];
  const refs = new Map<string, WeightRef>();
  for (const name of src.names()) {
    let out = name;
    for (const [from, to] of renames) out = out.replace(`.attentions.0.${from}.`, `.attentions.0.${to}.`);
    let ref = src.get(name);
    if (out !== name && fourD && name.endsWith(".weight")) {
      const t = readWeight(ref);
      ref = memoryWeight(out, reshape(t, [...t.shape, 1, 1])); // [C, C, 1, 1]
    }
    refs.set(out, ref);
  }
  return new WeightMap(refs, "legacy");
}

describe("VAE attention key layouts", () => {
  it("gives identical results for to_q/… , query/… and query/… stored as 1×1 conv weights", async () => {
    const c = golden("models/vae_sd1");
    const config = vaeConfigFromJson(c.config);
    const latents = float32([1, 4, 8, 8], new Float32Array(256).map((_, i) => Math.sin(i / 3)));
    const image = float32([1, 3, 64, 64], new Float32Array(3 * 64 * 64).map((_, i) => Math.cos(i / 50)));
    const run = async (weights: WeightSource) => {
      const dec = await createSession(buildVAEDecoderGraph(config, weights));
      const enc = await createSession(buildVAEEncoderGraph(config, weights));
      const decoded = (await dec.run({ [VAE_DECODER_INPUT]: latents }))[VAE_DECODER_OUTPUT]!;
      const mean = (await enc.run({ [VAE_ENCODER_INPUT]: image }))[VAE_ENCODER_OUTPUTS.mean]!;
      await dec.release();
      await enc.release();
      return [Array.from(decoded.data as Float32Array), Array.from(mean.data as Float32Array)];
    };
    expect(legacyWeights(c.weights, false).has("decoder.mid_block.attentions.0.query.weight")).toBe(true);
    const reference = await run(c.weights);
    expect(await run(legacyWeights(c.weights, false))).toEqual(reference);
    expect(await run(legacyWeights(c.weights, true))).toEqual(reference);
  });
});
