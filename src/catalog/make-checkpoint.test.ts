import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadModel } from "../checkpoint/load.js";
import { closeModel } from "../checkpoint/model.js";
import { unetShapes, vaeShapes, clipShapes } from "../checkpoint/keymap/layout.js";
import { readWeight } from "../checkpoint/weights.js";
import { toFloat32 } from "../tensor/tensor.js";
import { makeCheckpoint } from "./make-checkpoint.js";

describe("make-checkpoint (tiny scale)", () => {
  it.each(["sd15", "sdxl"] as const)("%s: a fp16 single file that loads back with every canonical weight", (arch) => {
    const out = join(mkdtempSync(join(tmpdir(), "vellum-make-")), `${arch}.safetensors`);
    makeCheckpoint({ arch, out, tiny: true });
    const { model, info, unmappedKeys } = loadModel(out);
    expect(info?.detection.architecture).toBe(arch === "sd15" ? "sd1x" : "sdxl");
    expect(info?.detection.dtype).toBe("float16");
    expect(unmappedKeys).toEqual([]);
    expect(model.unet!.weights.names().sort()).toEqual([...unetShapes(model.unet!.config).keys()].sort());
    expect(model.vae!.weights.names().sort()).toEqual([...vaeShapes(model.vae!.config).keys()].sort());
    expect(model.textEncoder!.weights.names().sort()).toEqual([...clipShapes(model.textEncoder!.config).keys()].sort());
    const norm = toFloat32(readWeight(model.unet!.weights.get("conv_norm_out.weight"))).data;
    const conv = toFloat32(readWeight(model.unet!.weights.get("conv_in.weight"))).data;
    expect(norm.reduce((a, b) => a + b, 0) / norm.length).toBeCloseTo(1, 1); // norm weights around 1
    expect(Math.abs(conv.reduce((a, b) => a + b, 0) / conv.length)).toBeLessThan(0.02); // others around 0
    closeModel(model);
  });
  it("is deterministic for a seed", () => {
    const dir = mkdtempSync(join(tmpdir(), "vellum-make-"));
    makeCheckpoint({ arch: "sd15", out: join(dir, "a.safetensors"), tiny: true, seed: 7 });
    makeCheckpoint({ arch: "sd15", out: join(dir, "b.safetensors"), tiny: true, seed: 7 });
    const a = loadModel(join(dir, "a.safetensors")).model, b = loadModel(join(dir, "b.safetensors")).model;
    expect(readWeight(a.unet!.weights.get("conv_in.weight")).data).toEqual(readWeight(b.unet!.weights.get("conv_in.weight")).data);
    closeModel(a);
    closeModel(b);
  });
});
