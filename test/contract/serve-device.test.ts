// `vellum serve --device X` checks the provider before it listens: where it cannot run, the command exits 1 at once
// with advice, instead of starting a server whose every request would fail.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { serve } from "../../src/cli/serve.js";
import { probeDevice } from "../../src/runtime/index.js";
import { runCli } from "../helpers/cli.js";

const root = mkdtempSync(join(tmpdir(), "vellum-serve-device-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("vellum serve --device", () => {
  for (const device of ["cuda", "webgpu"] as const) {
    it(`${device}: refuses to start where the provider cannot run, with advice`, async (ctx) => {
      const works = await probeDevice(device).then(() => true, () => false);
      if (works) ctx.skip(); // a machine with this GPU: serve would start (covered by the server tests on cpu)
      const { stderr } = await runCli(serve, ["--device", device, "--port", "0", "--models", root, "--data", join(root, "data"), "--no-auth"], 1);
      expect(stderr.join("\n")).toMatch(/--device cpu/);
    });
  }

  it("refuses an unknown device name", async () => {
    const { stderr } = await runCli(serve, ["--device", "tpu", "--port", "0", "--models", root, "--data", join(root, "data"), "--no-auth"], 2);
    expect(stderr.join("\n")).toMatch(/device/);
  });
});
