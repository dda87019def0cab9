// probeDevice: the start-up check of `vellum serve/worker --device`. CPU always runs; a GPU provider either runs the
// probe graph (a machine with the GPU) or fails with advice to use --device cpu — never a bare ONNX Runtime error.
import { describe, expect, it } from "vitest";
import { listSupportedBackends } from "./backends.js";
import { probeDevice } from "./probe.js";
import { useTempCacheDir } from "../../test/helpers/cache-dir.js";

useTempCacheDir("vellum-probe-");


describe("probeDevice", () => {
  it("passes on cpu", async () => {
    await expect(probeDevice("cpu")).resolves.toBeUndefined();
  });

  for (const device of ["cuda", "webgpu"] as const) {
    it(`${device}: runs the probe where the provider works, else fails with advice to use --device cpu`, async () => {
      const installed = listSupportedBackends().find((b) => b.name === device)?.installed === true;
      const outcome = await probeDevice(device).then(
        () => "ran",
        (e: Error) => e.message,
      );
      if (outcome === "ran") {
        expect(installed).toBe(true);
        return;
      }
      expect(outcome).toMatch(/--device cpu/);
      if (device === "cuda" && !installed) expect(outcome).toMatch(/onnxruntime-node-install=cuda12|ONNXRUNTIME_NODE_INSTALL=cuda12/);
    });
  }
});
