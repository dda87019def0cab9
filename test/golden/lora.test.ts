// The kohya LoRA merged at weight 0.8 reproduces diffusers' fused weights (golden/diffusion/README.md §5).
import { afterAll, describe, expect, it } from "vitest";
import { loadModel } from "../../src/checkpoint/load.js";
import { closeModel } from "../../src/checkpoint/model.js";
import { readWeight } from "../../src/checkpoint/weights.js";
import { mergeLoras, openLora } from "../../src/lora/index.js";
import { toFloat32 } from "../../src/tensor/tensor.js";
import { expectClose, goldenJson, goldenPath, loadGolden } from "../helpers/golden.js";

describe("kohya LoRA on tiny SD1", () => {
  const index = goldenJson<{ scale: number; rank: number; alpha: number }>("diffusion", "lora", "index.json");
  const base = loadModel(goldenPath("diffusion/single_file/tiny_sd1.safetensors")).model;
  const lora = openLora(goldenPath("diffusion/lora/tiny_sd1_lora_kohya.safetensors"));
  afterAll(() => {
    closeModel(base);
    lora.file.close();
  });

  it("merges every module and matches the fused weights", () => {
    const { model, report } = mergeLoras(base, [{ lora, weight: index.scale }]);
    expect(report.perLora[0]!.unmatched).toEqual([]);
    expect(report.perLora[0]!.skipped).toEqual([]);
    expect(report.perLora[0]!.merged).toBe(lora.modules.length);
    const fused = loadGolden("diffusion", "lora", "tiny_sd1_lora_fused_weights_scale0.8.safetensors");
    expect(fused.size).toBe(lora.modules.length);
    for (const [key, want] of fused) {
      const [part, ...rest] = key.split(".");
      const component = part === "unet" ? model.unet! : model.textEncoder!;
      const got = readWeight(component.weights.get(rest.join(".")));
      // float32 round-off only: the reference summed up@down in float32 (rank 4) in another order.
      expectClose(toFloat32(got), want, { atol: 1e-6, rtol: 1e-6, label: key });
    }
  });

  it("never modifies the base weights, and the merge is not a no-op", () => {
    const { model } = mergeLoras(base, [{ lora, weight: index.scale }]);
    const name = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight";
    expect(base.unet!.weights.get(name).bytes.kind).toBe("file");
    expect(model.unet!.weights.get(name).bytes.kind).toBe("memory");
    const before = toFloat32(readWeight(base.unet!.weights.get(name))).data;
    const after = toFloat32(readWeight(model.unet!.weights.get(name))).data;
    expect(after.some((v, i) => v !== before[i])).toBe(true);
  });

  it("two applications add: 0.5 + 0.3 equals 0.8", () => {
    const once = mergeLoras(base, [{ lora, weight: 0.8 }]).model;
    const twice = mergeLoras(base, [{ lora, weight: 0.5 }, { lora, weight: 0.3 }]).model;
    const name = "text_model.encoder.layers.0.mlp.fc1.weight";
    expectClose(toFloat32(readWeight(twice.textEncoder!.weights.get(name))), toFloat32(readWeight(once.textEncoder!.weights.get(name))), { atol: 1e-6 });
  });
});
