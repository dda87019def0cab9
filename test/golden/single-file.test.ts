// Single files map to exactly the weights and configs of the diffusers folders they were converted from
// (golden/diffusion/README.md §4, §6, §7): key by key, bytes equal (fp16 file = fp32 weights rounded to fp16).
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadModel } from "../../src/checkpoint/load.js";
import { closeModel, type Component, type PipelineModel } from "../../src/checkpoint/model.js";
import { SafetensorsFile } from "../../src/checkpoint/safetensors.js";
import { readWeight, safetensorsWeights } from "../../src/checkpoint/weights.js";
import { singleFileInfo } from "../../src/checkpoint/single-file.js";
import { toFloat16, toFloat32, type Tensor } from "../../src/tensor/tensor.js";
import { expectClose, goldenPath } from "../helpers/golden.js";

const opened: PipelineModel[] = [];
afterAll(() => opened.forEach(closeModel));

function folderComponent(dir: string, weightsFile: string): { config: Record<string, unknown>; tensors: Map<string, Tensor> } {
  const file = SafetensorsFile.open(goldenPath(dir, weightsFile));
  const w = safetensorsWeights(file);
  const tensors = new Map(w.names().map((n) => [n, readWeight(w.get(n))]));
  file.close();
  return { config: JSON.parse(readFileSync(goldenPath(dir, "config.json"), "utf-8")), tensors };
}

/** Every expected weight exists with the same shape and equal values (optionally after rounding to fp16). */
function expectSameWeights(actual: Component | undefined, expected: Map<string, Tensor>, label: string, fp16 = false): void {
  expect(actual, label).toBeDefined();
  expect(actual!.weights.names().sort(), `${label} names`).toEqual([...expected.keys()].sort());
  for (const [name, want] of expected) {
    const got = readWeight(actual!.weights.get(name));
    expect([...got.shape], `${label} ${name} shape`).toEqual([...want.shape]);
    const ref = fp16 ? toFloat32(toFloat16(want)) : want;
    expectClose(toFloat32(got), ref, { atol: 0, label: `${label} ${name}` }); // exact: same bytes
  }
}

const keysOf = (c: Record<string, unknown>) => Object.keys(c).filter((k) => !k.startsWith("_") && k !== "transformers_version" && k !== "torch_dtype");

function expectSameConfig(actual: Record<string, unknown> | undefined, expected: Record<string, unknown>, label: string): void {
  for (const k of keysOf(expected)) expect(actual?.[k], `${label}.${k}`).toEqual(expected[k]);
}

describe("tiny SD1 single file", () => {
  const path = goldenPath("diffusion/single_file/tiny_sd1.safetensors");
  const { model, info, unmappedKeys } = loadModel(path);
  opened.push(model);
  it("is detected as SD1 with its sidecars", () => {
    expect(model.family).toBe("sd1");
    expect(info?.detection.architecture).toBe("sd1x");
    expect(info?.sidecars.yamlPath).toMatch(/tiny_sd1\.yaml$/);
    expect(info?.predictionType).toBe("epsilon");
    expect(unmappedKeys).toEqual([]);
  });
  it("UNet, VAE, text encoder equal the diffusers folders", () => {
    const unet = folderComponent("diffusion/models/unet_sd1", "diffusion_pytorch_model.safetensors");
    const vae = folderComponent("diffusion/models/vae_sd1", "diffusion_pytorch_model.safetensors");
    const te = folderComponent("text/models/clip-l-tiny", "model.safetensors");
    expectSameWeights(model.unet, unet.tensors, "unet");
    expectSameWeights(model.vae, vae.tensors, "vae");
    expectSameWeights(model.textEncoder, te.tensors, "text_encoder");
    expectSameConfig(model.unet?.config, unet.config, "unet");
    expectSameConfig(model.vae?.config, vae.config, "vae");
    expectSameConfig(model.textEncoder?.config, te.config, "text_encoder");
  });
  it("shape-inferred configs agree with the real ones where shapes can tell", () => {
    const file = SafetensorsFile.open(path);
    const bare = singleFileInfo(file, { sidecars: false });
    file.close();
    const unet = folderComponent("diffusion/models/unet_sd1", "diffusion_pytorch_model.safetensors").config;
    for (const k of ["block_out_channels", "layers_per_block", "cross_attention_dim", "in_channels", "out_channels", "down_block_types", "up_block_types", "use_linear_projection", "transformer_layers_per_block", "mid_block_type"]) {
      expect(bare.configs.unet?.[k], `unet.${k}`).toEqual(unet[k]);
    }
    const te = folderComponent("text/models/clip-l-tiny", "model.safetensors").config;
    for (const k of ["hidden_size", "intermediate_size", "num_hidden_layers", "vocab_size", "max_position_embeddings", "hidden_act"]) {
      expect(bare.configs.textEncoder?.[k], `text_encoder.${k}`).toEqual(te[k]);
    }
  });
});

describe("tiny SDXL fp16 single file", () => {
  const { model, info, unmappedKeys } = loadModel(goldenPath("diffusion/single_file/tiny_sdxl_fp16.safetensors"));
  opened.push(model);
  it("is SDXL, float16, fully mapped", () => {
    expect(model.family).toBe("sdxl");
    expect(info?.detection.dtype).toBe("float16");
    expect(unmappedKeys).toEqual([]);
    expect(model.unet?.weights.get("conv_in.weight").dtype).toBe("float16");
  });
  it("weights equal the fp32 diffusers weights rounded to fp16; configs equal", () => {
    const parts: [Component | undefined, string, string][] = [
      [model.unet, "diffusion/models/unet_sdxl", "diffusion_pytorch_model.safetensors"],
      [model.vae, "diffusion/models/vae_sdxl", "diffusion_pytorch_model.safetensors"],
      [model.textEncoder, "text/models/clip-l-tiny", "model.safetensors"],
      [model.textEncoder2, "text/models/clip-g-tiny", "model.safetensors"],
    ];
    for (const [c, dir, f] of parts) {
      const want = folderComponent(dir, f);
      expectSameWeights(c, want.tensors, dir, true);
      expectSameConfig(c?.config, want.config, dir);
    }
  });
  it("shape inference finds SDXL's time-embedding width and pooled projection", () => {
    const file = SafetensorsFile.open(goldenPath("diffusion/single_file/tiny_sdxl_fp16.safetensors"));
    const bare = singleFileInfo(file, { sidecars: false });
    file.close();
    const unet = folderComponent("diffusion/models/unet_sdxl", "diffusion_pytorch_model.safetensors").config;
    for (const k of ["block_out_channels", "transformer_layers_per_block", "addition_time_embed_dim", "projection_class_embeddings_input_dim", "cross_attention_dim", "down_block_types", "use_linear_projection"]) {
      expect(bare.configs.unet?.[k], `unet.${k}`).toEqual(unet[k]);
    }
    expect(bare.configs.textEncoder2?.["projection_dim"]).toBe(24);
  });
});

describe("tiny SD2 single file (OpenCLIP, v-prediction)", () => {
  const { model, info, unmappedKeys } = loadModel(goldenPath("diffusion/sd2/single_file/tiny_sd2.safetensors"));
  opened.push(model);
  it("is SD2, v-prediction from the yaml", () => {
    expect(model.family).toBe("sd2");
    expect(info?.predictionType).toBe("v_prediction");
    expect(info?.predictionSource).toBe("sidecar-yaml"); // tiny_sd2.yaml: parameterization "v"
    expect(model.schedulerConfig?.["prediction_type"]).toBe("v_prediction");
    expect(unmappedKeys).toEqual([]);
  });
  it("drops the file's last resblock and equals the diffusers components", () => {
    expect(model.textEncoder?.weights.names().some((n) => n.includes("layers.4."))).toBe(false);
    expect(model.textEncoder?.weights.has("text_projection.weight")).toBe(false);
    const qkv = model.textEncoder!.weights.get("text_model.encoder.layers.0.self_attn.k_proj.weight");
    expect(qkv.bytes.kind).toBe("file"); // a row range of the packed in_proj_weight, not a copy
    const parts: [Component | undefined, string, string][] = [
      [model.unet, "diffusion/sd2/models/unet", "diffusion_pytorch_model.safetensors"],
      [model.vae, "diffusion/models/vae_sd1", "diffusion_pytorch_model.safetensors"],
      [model.textEncoder, "diffusion/sd2/models/text_encoder", "model.safetensors"],
    ];
    for (const [c, dir, f] of parts) {
      const want = folderComponent(dir, f);
      expectSameWeights(c, want.tensors, dir);
      expectSameConfig(c?.config, want.config, dir);
    }
  });
  it("a folder loads through the same entry point", () => {
    const folder = loadModel(goldenPath("diffusion/sd2/models"));
    opened.push(folder.model);
    expect(folder.model.format).toBe("diffusers");
  });
});

describe("pickles", () => {
  it("a .ckpt is refused, never unpickled", () => {
    const path = join(mkdtempSync(join(tmpdir(), "vellum-ckpt-")), "model.ckpt");
    writeFileSync(path, "PK\u0003\u0004 not read");
    expect(() => loadModel(path)).toThrow(/never loaded/);
  });
});
