export { createGenerator, DEFAULT_GENERATOR_KIND, MAX_SEED } from "./create-generator.js";
export { cudaPhiloxGenerator } from "./cuda-philox.js";
export { torchCpuGenerator, type TorchCpuConfig } from "./torch-cpu.js";
export type { GeneratorKind, NoiseGenerator } from "./types.js";
