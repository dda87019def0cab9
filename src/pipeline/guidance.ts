// Classifier-free guidance on a batched UNet output [uncond; cond], and diffusers' guidance rescale.
import { float32, numel, type Float32Tensor } from "../tensor/tensor.js";

/** Splits a [2·B, …] tensor into its first and second halves along the batch axis. */
export function splitBatch(t: Float32Tensor): [Float32Tensor, Float32Tensor] {
  const [b, ...rest] = t.shape;
  if (b === undefined || b % 2 !== 0) throw new Error(`splitBatch: batch ${b} is not even`);
  const half = numel(t.shape) / 2;
  const shape = [b / 2, ...rest];
  return [float32(shape, t.data.subarray(0, half)), float32(shape, t.data.subarray(half))];
}

/** noise = uncond + g · (cond − uncond), element-wise in float32. */
export function applyGuidance(uncond: Float32Tensor, cond: Float32Tensor, guidanceScale: number): Float32Tensor {
  const out = new Float32Array(uncond.data.length);
  const g = Math.fround(guidanceScale);
  for (let i = 0; i < out.length; i++) {
    const u = uncond.data[i]!;
    out[i] = u + g * Math.fround(cond.data[i]! - u);
  }
  return float32(uncond.shape, out);
}

/** Unbiased standard deviation of each batch item (torch.std over all non-batch dims). */
function stdPerItem(t: Float32Tensor): number[] {
  const b = t.shape[0] ?? 1;
  const n = t.data.length / b;
  const out: number[] = [];
  for (let k = 0; k < b; k++) {
    const x = t.data.subarray(k * n, (k + 1) * n);
    let mean = 0;
    for (const v of x) mean += v;
    mean /= n;
    let ss = 0;
    for (const v of x) ss += (v - mean) * (v - mean);
    out.push(Math.sqrt(ss / (n - 1)));
  }
  return out;
}

/**
 * diffusers `rescale_noise_cfg` (Lin et al., "Common Diffusion Noise Schedules and Sample Steps are Flawed", §3.4):
 * rescales the guided prediction to the std of the text-conditioned one, mixed by `guidanceRescale`.
 */
export function rescaleGuidance(noiseCfg: Float32Tensor, noiseText: Float32Tensor, guidanceRescale: number): Float32Tensor {
  const stdText = stdPerItem(noiseText);
  const stdCfg = stdPerItem(noiseCfg);
  const b = noiseCfg.shape[0] ?? 1;
  const n = noiseCfg.data.length / b;
  const out = new Float32Array(noiseCfg.data.length);
  for (let k = 0; k < b; k++) {
    const ratio = stdText[k]! / stdCfg[k]!;
    for (let i = k * n; i < (k + 1) * n; i++) {
      const v = noiseCfg.data[i]!;
      out[i] = guidanceRescale * (v * ratio) + (1 - guidanceRescale) * v;
    }
  }
  return float32(noiseCfg.shape, out);
}
