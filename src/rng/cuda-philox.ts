// torch CUDA `randn` as reproduced on CPU by AUTOMATIC1111 (modules/rng_philox.py): element i of a call is
// Philox4x32-10 with key = the 64-bit seed and counter = (offset, 0, i, 0), then one Box–Muller sine.
// The offset grows by 1 per call. All 64 seed bits count; element i depends only on (seed, offset, i).
import { numel, tensor, type Float32Tensor } from "../tensor/tensor.js";
import { philox4x32 } from "./philox.js";
import type { NoiseGenerator } from "./types.js";

// The reference multiplies by these float32 constants in double precision.
const TWO_POW32_INV = Math.fround(2.3283064e-10);
const TWO_POW32_INV_2PI = Math.fround(2.3283064e-10 * 6.2831855);

export function cudaPhiloxGenerator(seed: bigint): NoiseGenerator {
  const key = BigInt.asUintN(64, seed);
  const k0 = Number(key & 0xffffffffn);
  const k1 = Number(key >> 32n);
  let offset = 0;
  const words = new Uint32Array(4);

  return {
    randn(shape: readonly number[]): Float32Tensor {
      const n = numel(shape);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        philox4x32(words, offset, 0, i, 0, k0, k1);
        const u = words[0]! * TWO_POW32_INV + TWO_POW32_INV / 2;
        const v = words[1]! * TWO_POW32_INV_2PI + TWO_POW32_INV_2PI / 2;
        out[i] = Math.sqrt(-2 * Math.log(u)) * Math.sin(v);
      }
      offset++;
      return tensor("float32", shape, out);
    },
  };
}
