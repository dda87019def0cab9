import { defineConfig } from "vitest/config";

// Suites: fast unit tests beside the code (and the benchmark's own), numeric goldens against ../shared/golden,
// contract tests that boot the real server, and the browser test of the playground page.
export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    projects: [
      { extends: true, test: { name: "unit", include: ["src/**/*.test.ts", "bench/**/*.test.ts"] } },
      { extends: true, test: { name: "golden", include: ["test/golden/**/*.test.ts"] } },
      { extends: true, test: { name: "contract", include: ["test/contract/**/*.test.ts"] } },
      { extends: true, test: { name: "browser", include: ["test/browser/**/*.test.ts"] } },
      { extends: true, test: { name: "jobs", include: ["test/jobs/**/*.test.ts"] } },
    ],
  },
});
