// Checks at start-up that an execution provider really runs here, so `vellum serve --device webgpu` on a machine without
// a usable GPU fails at once with advice, instead of failing every request later.
import { GraphBuilder } from "../graph/index.js";
import { float32 } from "../tensor/tensor.js";
import { assertDevice, type Device } from "./backends.js";
import { createSession } from "./session.js";

/** Opens and runs a one-node graph (y = x + x) on `device`; throws with what to do when it cannot. */
export async function probeDevice(device: Device): Promise<void> {
  assertDevice(device);
  if (device === "cpu") return;
  const g = new GraphBuilder("probe");
  const x = g.input("x", "float32", [2]);
  g.output(g.add(x, x), "y");
  try {
    const session = await createSession(g.build(), { device, threads: 1 });
    try {
      const y = (await session.run({ x: float32([2], [1, 2]) }))["y"]!.data;
      if (y[0] !== 2 || y[1] !== 4) throw new Error(`the probe graph computed [${[...y].join(", ")}] instead of [2, 4]`);
    } finally {
      await session.release();
    }
  } catch (e) {
    throw new Error(`${(e as Error).message}. Run with --device cpu (or VELLUM_DEVICE=cpu) on this machine.`);
  }
}
