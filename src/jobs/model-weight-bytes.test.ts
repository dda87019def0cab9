// What the pool's memory budget counts: float32 bytes once loaded (16-bit weights widened), SDXL encoders at 16 bits.
import { describe, expect, it } from "vitest";
import { goldenPath } from "../../test/helpers/golden.js";
import { loadModel } from "../checkpoint/load.js";
import { closeModel, type PipelineModel } from "../checkpoint/model.js";
import { modelWeightBytes } from "./model-pool.js";

function storedBytes(model: PipelineModel, part: "unet" | "vae" | "textEncoder" | "textEncoder2"): { f16: number; other: number } {
  const c = model[part];
  let f16 = 0;
  let other = 0;
  for (const name of c?.weights.names() ?? []) {
    const w = c!.weights.get(name);
    const n = w.bytes.kind === "file" ? w.bytes.byteLength : w.bytes.tensor.data.byteLength;
    if (w.dtype === "float16" || w.dtype === "bfloat16") f16 += n;
    else other += n;
  }
  return { f16, other };
}

describe("modelWeightBytes", () => {
  it("counts a float32 SD1 checkpoint at its size", () => {
    const { model } = loadModel(goldenPath("diffusion", "single_file", "tiny_sd1.safetensors"));
    try {
      const parts = (["unet", "vae", "textEncoder"] as const).map((p) => storedBytes(model, p));
      expect(parts.every((p) => p.f16 === 0)).toBe(true);
      expect(modelWeightBytes(model)).toBe(parts.reduce((s, p) => s + p.other, 0));
    } finally {
      closeModel(model);
    }
  });

  it("counts an fp16 SDXL checkpoint's UNet and VAE twice (widened), its text encoders once (kept 16-bit)", () => {
    const { model } = loadModel(goldenPath("diffusion", "single_file", "tiny_sdxl_fp16.safetensors"));
    try {
      const [unet, vae, te1, te2] = (["unet", "vae", "textEncoder", "textEncoder2"] as const).map((p) => storedBytes(model, p));
      expect(unet!.f16).toBeGreaterThan(0);
      expect(te2!.f16).toBeGreaterThan(0);
      const want = 2 * (unet!.f16 + vae!.f16) + unet!.other + vae!.other + te1!.f16 + te1!.other + te2!.f16 + te2!.other;
      expect(modelWeightBytes(model)).toBe(want);
    } finally {
      closeModel(model);
    }
  });
});
