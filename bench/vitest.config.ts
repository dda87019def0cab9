import { defineConfig } from "vitest/config";

// The benchmark's own unit tests (FLOP counting, statistics): npx vitest run -c bench/vitest.config.ts
export default defineConfig({ test: { root: ".", include: ["bench/**/*.test.ts"] } });
