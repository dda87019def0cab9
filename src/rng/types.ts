// What every seeded noise source offers. Structurally the `Noise` of schedulers/types.ts (rng imports only tensor).
import type { Float32Tensor } from "../tensor/tensor.js";

export interface NoiseGenerator {
  /** Standard normal float32 noise of `shape`; consecutive calls continue the generator's stream. */
  randn(shape: readonly number[]): Float32Tensor;
}

/** "gpu": torch CUDA randn (Philox, A1111's reproduction); "cpu": torch CPU randn (mt19937), what diffusers gets from a CPU generator. */
export type GeneratorKind = "gpu" | "cpu";
