// torch CPU `randn` (torch 1.13, float32): mt19937 uniforms → Box–Muller, two code paths chosen by element count.
//   n ≥ 16: float path, blocks of 16 (8 cos / 8 sin), tail recomputed from 16 fresh uniforms;
//   n < 16: double path, one element at a time, with the sine partner cached in the generator.
import { numel, tensor, type Float32Tensor } from "../tensor/tensor.js";
import { Mt19937 } from "./mt19937.js";
import type { NoiseGenerator } from "./types.js";

export interface TorchCpuConfig {
  /**
   * Which torch CPU kernel to reproduce on the float path: "avx2" (θ = float32(2π)·u2 in float32, torch builds on
   * AVX2 machines, the usual case) or "default" (θ computed in double then rounded, the generic kernel).
   * The two differ by up to 2e-6; the double path (n < 16) is the same for both.
   */
  kernel?: "avx2" | "default";
}

const fr = Math.fround;
const TWO_PI_F32 = fr(2 * Math.PI);
const TWO_POW_M24 = 2 ** -24;
const TWO_POW_M53 = 2 ** -53;
const TWO_POW_32 = 2 ** 32;

export function torchCpuGenerator(seed: bigint, config: TorchCpuConfig = {}): NoiseGenerator {
  const mt = new Mt19937(Number(BigInt.asUintN(32, seed)));
  const thetaInDouble = config.kernel === "default";
  let cachedNormal: number | undefined; // a double, as torch's next_double_normal_sample

  /** 24-bit uniform in [0, 1) (float32 exact). */
  const uniform24 = (words: Uint32Array, out: Float32Array, at: number): void => {
    mt.fill(words);
    for (let i = 0; i < words.length; i++) out[at + i] = (words[i]! & 0xffffff) * TWO_POW_M24;
  };

  /** Box–Muller over 16 uniforms in place: out[j] = r·cos θ, out[j+8] = r·sin θ, float32 arithmetic. */
  const normal16 = (d: Float32Array, b: number): void => {
    for (let j = 0; j < 8; j++) {
      const u1 = fr(1 - d[b + j]!);
      const u2 = d[b + 8 + j]!;
      const r = fr(Math.sqrt(fr(-2 * fr(Math.log(u1)))));
      const theta = thetaInDouble ? fr(2 * Math.PI * u2) : fr(TWO_PI_F32 * u2);
      d[b + j] = fr(r * fr(Math.cos(theta)));
      d[b + 8 + j] = fr(r * fr(Math.sin(theta)));
    }
  };

  const floatPath = (n: number): Float32Array => {
    const out = new Float32Array(n);
    uniform24(new Uint32Array(n), out, 0);
    for (let b = 0; b + 16 <= n; b += 16) normal16(out, b);
    if (n % 16 !== 0) {
      uniform24(new Uint32Array(16), out, n - 16); // overwrite the last 16 with fresh uniforms
      normal16(out, n - 16);
    }
    return out;
  };

  /** 53-bit uniform in [0, 1): next64() = (first word << 32) | second word, masked to 53 bits. */
  const uniform53 = (): number => {
    const hi = mt.next32() & 0x1fffff;
    const lo = mt.next32();
    return (hi * TWO_POW_32 + lo) * TWO_POW_M53;
  };

  const doublePath = (n: number): Float32Array => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      if (cachedNormal !== undefined) {
        out[i] = cachedNormal;
        cachedNormal = undefined;
        continue;
      }
      const u1 = uniform53();
      const u2 = uniform53();
      const r = Math.sqrt(-2 * Math.log(1 - u2));
      const theta = 2 * Math.PI * u1;
      cachedNormal = r * Math.sin(theta);
      out[i] = r * Math.cos(theta);
    }
    return out;
  };

  return {
    randn(shape: readonly number[]): Float32Tensor {
      const n = numel(shape);
      return tensor("float32", shape, n >= 16 ? floatPath(n) : doublePath(n));
    },
  };
}
