// Pixels ↔ tensors vs diffusers: VaeImageProcessor.preprocess of the img2img PNGs, postprocess of the VAE output,
// and the inpainting mask as PIL's convert("L") reads it.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeImage, decodeMask } from "../../src/image/decode-image.js";
import { imageToTensor } from "../../src/image/image-to-tensor.js";
import { latentsImageToRgb } from "../../src/image/latents-image-to-rgb.js";
import { numel, tensor, type Float32Tensor, type Tensor } from "../../src/tensor/tensor.js";
import { expectClose, goldenJson, goldenPath, goldenTensor } from "../helpers/golden.js";

/** Item k of a batched tensor, as a batch of one. */
function item<T extends Tensor>(t: T, k: number): T {
  const [, ...rest] = t.shape;
  const n = numel(rest);
  return tensor(t.dtype, [1, ...rest], t.data.subarray(k * n, (k + 1) * n) as T["data"]) as T;
}

describe("imageToTensor vs img2img/vae_encode.safetensors `image`", () => {
  const meta = goldenJson<{ images: string[] }>("diffusion", "img2img", "vae_encode.json");
  const file = ["diffusion", "img2img", "vae_encode.safetensors"];
  meta.images.forEach((png, k) => {
    it(png, async () => {
      const decoded = await decodeImage(readFileSync(goldenPath("diffusion", png)));
      // The PNG pixels as PIL reads them: exact.
      expect(Buffer.from(decoded.rgb).equals(Buffer.from(item(goldenTensor(file, "image_uint8"), k).data as Uint8Array))).toBe(true);
      // 2·(u8/255) − 1 in float32, the same operations as numpy: exact (the README reports 0.0 on reload).
      const x = imageToTensor(decoded);
      expectClose(x, item(goldenTensor(file, "image") as Float32Tensor, k), { atol: 0, label: `image[${k}]` });
    });
  });
});

describe("latentsImageToRgb vs models/vae_*_io.safetensors", () => {
  for (const name of ["vae_sd1_io.safetensors", "vae_sdxl_io.safetensors"]) {
    it(name, () => {
      const file = ["diffusion", "models", name];
      const out = latentsImageToRgb(goldenTensor(file, "decoded") as Float32Tensor);
      // Same float32 operations on the stored `decoded` tensor, so exact; the README's image_np abs 2e-3 /
      // uint8 ±1 tolerances are for a VAE run on another runtime, not for this post-processing step.
      expectClose(out.np, goldenTensor(file, "image_np"), { atol: 0, label: "image_np" });
      const u8 = goldenTensor(file, "image_uint8");
      expect([1, out.height, out.width, 3]).toEqual([...u8.shape]);
      expectClose(out.rgb, u8, { atol: 0, label: "image_uint8" });
    });
  }
});

describe("decodeMask vs the inpainting cases' mask_uint8", () => {
  it("reads img2img/mask_0.png as PIL's convert('L')", async () => {
    const index = goldenJson<{ cases: { kind: string; file: string; mask_image?: string }[] }>("diffusion", "img2img", "index.json");
    const cases = index.cases.filter((c) => c.mask_image !== undefined);
    expect(cases.length).toBeGreaterThan(0);
    const first = cases[0]!;
    const mask = await decodeMask(readFileSync(goldenPath("diffusion", first.mask_image!)));
    const expected = goldenTensor(["diffusion", first.file], "mask_uint8");
    expect([1, mask.height, mask.width]).toEqual([...expected.shape]);
    expectClose(mask.grey, expected, { atol: 0, label: "mask_uint8" });
  });
});
