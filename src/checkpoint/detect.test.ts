// Architecture detection on header-only layouts of real full-size checkpoints (test/fixtures/layouts) and the
// layout generator checked against a real converted file's header.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { detectCheckpoint, headerFromShapes, type Detection } from "./detect.js";
import { singleFileLayout, unetShapes } from "./keymap/layout.js";
import { SafetensorsFile } from "./safetensors.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const layout = (name: string) => JSON.parse(readFileSync(resolve(root, "test/fixtures/layouts", `${name}.json`), "utf-8")) as Record<string, number[]>;
const golden = (p: string) => resolve(root, "../shared/golden/diffusion", p);

function detect(name: string): Detection {
  const r = detectCheckpoint(headerFromShapes(layout(name)));
  if (!r.ok) throw new Error(r.message);
  return r;
}

describe("detectCheckpoint on full-size layouts", () => {
  it.each([
    ["sd15", "sd1x", "sd1", false, 768, "cond_stage_model.transformer."],
    ["sd15-inpainting", "sd1x", "sd1", true, 768, "cond_stage_model.transformer."],
    ["sd21-768-v", "sd2x", "sd2", false, 1024, "cond_stage_model.model."],
    ["sdxl-base", "sdxl", "sdxl", false, 2048, "conditioner.embedders.0.transformer."],
  ])("%s → %s", (name, arch, family, inpainting, ctx, tePrefix) => {
    const d = detect(name);
    expect(d.architecture).toBe(arch);
    expect(d.family).toBe(family);
    expect(d.inpainting).toBe(inpainting);
    expect(d.loadable).toBe(true);
    expect(d.configs.unet?.["cross_attention_dim"]).toBe(ctx);
    expect(d.textEncoder?.prefix).toBe(tePrefix);
  });
  it("SD1.5 configs are the published ones", () => {
    const d = detect("sd15");
    expect(d.configs.unet).toMatchObject({ block_out_channels: [320, 640, 1280, 1280], layers_per_block: 2, attention_head_dim: 8, in_channels: 4, use_linear_projection: false, transformer_layers_per_block: 1 });
    expect(d.configs.textEncoder).toMatchObject({ hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, hidden_act: "quick_gelu" });
    expect(d.configs.vae).toMatchObject({ block_out_channels: [128, 256, 512, 512], layers_per_block: 2, scaling_factor: 0.18215 });
  });
  it("SD2.1: OpenCLIP-H with its last resblock dropped (23 layers), linear projections, 64-wide heads", () => {
    const d = detect("sd21-768-v");
    expect(d.textEncoder).toMatchObject({ kind: "openclip", fileLayers: 24, layers: 23, width: 1024, withProjection: false });
    expect(d.configs.textEncoder).toMatchObject({ num_hidden_layers: 23, num_attention_heads: 16, hidden_act: "gelu", intermediate_size: 4096 });
    expect(d.configs.unet).toMatchObject({ use_linear_projection: true, attention_head_dim: [5, 10, 20, 20] });
  });
  it("SDXL base: two encoders, text_time embedding of the published width", () => {
    const d = detect("sdxl-base");
    expect(d.configs.unet).toMatchObject({ transformer_layers_per_block: [1, 2, 10], addition_time_embed_dim: 256, projection_class_embeddings_input_dim: 2816, down_block_types: ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"] });
    expect(d.configs.textEncoder2).toMatchObject({ hidden_size: 1280, num_hidden_layers: 32, projection_dim: 1280, architectures: ["CLIPTextModelWithProjection"] });
  });
  it("SDXL refiner: bigG only, 5 time ids", () => {
    const d = detect("sdxl-refiner");
    expect(d.architecture).toBe("sdxl-refiner");
    expect(d.textEncoder).toBeUndefined();
    expect(d.textEncoder2?.prefix).toBe("conditioner.embedders.0.model.");
    expect(d.configs.unet).toMatchObject({ cross_attention_dim: 1280, addition_time_embed_dim: 256, block_out_channels: [384, 768, 1536, 1536], transformer_layers_per_block: 4 });
  });
  it.each([["sd3-medium", "sd3"], ["flux1-dev", "flux1"]])("%s is recognised as %s and not loadable", (name, arch) => {
    const d = detect(name);
    expect(d.architecture).toBe(arch);
    expect(d.loadable).toBe(false);
  });
  it("an unknown file names the key it looked for", () => {
    const r = detectCheckpoint(headerFromShapes({ "foo.weight": [3] }));
    expect(r).toMatchObject({ ok: false, code: "unknownCheckpoint", missingKey: "model.diffusion_model.input_blocks.0.0.weight" });
  });
  it("marker keys and dtype are reported", () => {
    const table = { ...layout("sdxl-base"), v_pred: [], ztsnr: [] };
    const d = detectCheckpoint(headerFromShapes(table, "bfloat16"));
    expect(d.ok && d.markers).toEqual({ vPred: true, ztsnr: true });
    expect(d.ok && d.dtype).toBe("bfloat16");
  });
});

describe("layout generator vs a real converted file", () => {
  it("singleFileLayout(tiny SD1 configs) is exactly tiny_sd1.safetensors' header", () => {
    const configs = JSON.parse(readFileSync(golden("single_file/tiny_sd1.config.json"), "utf-8"));
    const mine = singleFileLayout({ family: "sd1", unet: configs.unet, vae: configs.vae, textEncoder: configs.text_encoder });
    const file = SafetensorsFile.open(golden("single_file/tiny_sd1.safetensors"));
    const theirs = new Map(file.names().map((n) => [n, [...file.info(n).shape]]));
    file.close();
    expect(new Map([...mine].sort())).toEqual(new Map([...theirs].sort()));
  });
  it("unetShapes(tiny SDXL config) equals the diffusers weights' shapes", () => {
    const config = JSON.parse(readFileSync(golden("models/unet_sdxl/config.json"), "utf-8"));
    const file = SafetensorsFile.open(golden("models/unet_sdxl/diffusion_pytorch_model.safetensors"));
    const theirs = new Map(file.names().map((n) => [n, [...file.info(n).shape]]));
    file.close();
    expect(new Map([...unetShapes(config)].sort())).toEqual(new Map([...theirs].sort()));
  });
});
