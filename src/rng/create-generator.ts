// Picks the noise source by name. "gpu" is the default: it is what torch on CUDA, A1111 and most GPU servers give.
import { cudaPhiloxGenerator } from "./cuda-philox.js";
import { torchCpuGenerator } from "./torch-cpu.js";
import type { GeneratorKind, NoiseGenerator } from "./types.js";

/** Largest seed accepted: torch's and A1111's seeds are signed 64-bit. */
export const MAX_SEED = 2n ** 63n - 1n;

export const DEFAULT_GENERATOR_KIND: GeneratorKind = "gpu";

export function createGenerator(kind: GeneratorKind = DEFAULT_GENERATOR_KIND, seed: bigint): NoiseGenerator {
  if (seed < 0n || seed > MAX_SEED) throw new RangeError(`seed must be in [0, 2^63 − 1], got ${seed}`);
  return kind === "cpu" ? torchCpuGenerator(seed) : cudaPhiloxGenerator(seed);
}
