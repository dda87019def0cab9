// UNet2DConditionModel graphs vs diffusers 0.27.2 on the tiny random UNets (README section 2 and section 7):
// SD1 (conv projections), SDXL (text_time, 3 levels, depth per block), SD2 (linear projections, heads per block)
// and the 9-channel inpainting UNet. Tolerance abs 1e-4 (README: UNet noise_pred, float32 on another runtime).
import { afterAll, describe, expect, it } from "vitest";
import { loadComponentFolder } from "../../src/checkpoint/model.js";
import type { SafetensorsFile } from "../../src/checkpoint/safetensors.js";
import { buildUNetGraph, unetConfigFromJson, UNET_INPUTS, UNET_OUTPUT } from "../../src/models/unet.js";
import { createSession, type Session } from "../../src/runtime/index.js";
import { float32, toFloat32, type Tensor } from "../../src/tensor/tensor.js";
import { expectClose, goldenPath, goldenTensor } from "../helpers/golden.js";

const ATOL = 1e-4;

const files: SafetensorsFile[] = [];
const sessions: Session[] = [];
afterAll(async () => {
  for (const s of sessions) await s.release();
  for (const f of files) f.close();
});

async function unetSession(folder: string): Promise<{ session: Session; textTime: boolean }> {
  const component = loadComponentFolder(goldenPath("diffusion", folder), files);
  if (component === undefined) throw new Error(`no component at ${folder}`);
  const config = unetConfigFromJson(component.config);
  const session = await createSession(buildUNetGraph(config, component.weights, { intermediates: true }));
  sessions.push(session);
  return { session, textTime: config.addition !== undefined };
}

function feeds(io: string, timestep: Tensor, textTime: boolean): Record<string, Tensor> {
  return {
    [UNET_INPUTS.sample]: goldenTensor(io, "sample"),
    [UNET_INPUTS.timestep]: timestep,
    [UNET_INPUTS.encoderHiddenStates]: goldenTensor(io, "encoder_hidden_states"),
    ...(textTime && {
      [UNET_INPUTS.textEmbeds]: goldenTensor(io, "text_embeds"),
      [UNET_INPUTS.timeIds]: goldenTensor(io, "time_ids"),
    }),
  };
}

const CASES = [
  { name: "sd1", folder: "models/unet_sd1", io: "diffusion/models/unet_sd1_io.safetensors" },
  { name: "sdxl", folder: "models/unet_sdxl", io: "diffusion/models/unet_sdxl_io.safetensors" },
  { name: "sd2", folder: "sd2/models/unet", io: "diffusion/sd2/models/unet_io.safetensors" },
];

describe.each(CASES)("UNet $name", ({ folder, io }) => {
  it("matches noise_pred and every intermediate for timesteps [2]", async () => {
    const { session, textTime } = await unetSession(folder);
    const out = await session.run(feeds(io, goldenTensor(io, "timesteps"), textTime));
    const checked: string[] = [];
    for (const name of session.outputNames) {
      if (!name.startsWith("intermediate.")) continue;
      // flat comparison: the reference stores add_time_proj before its [B, K·e] reshape ([B·K, e])
      expectClose(out[name]!.data as Float32Array, toFloat32(goldenTensor(io, name)).data, { atol: ATOL, label: name });
      checked.push(name);
    }
    expect(checked).toContain("intermediate.mid_block");
    expectClose(out[UNET_OUTPUT]!, goldenTensor(io, "noise_pred"), { atol: ATOL, label: "noise_pred" });
  });

  it("broadcasts a single timestep over the batch (noise_pred_scalar_t)", async () => {
    const { session, textTime } = await unetSession(folder);
    const scalarT = goldenTensor(io, "timestep_scalar");
    const out = await session.run(feeds(io, float32([1], scalarT.data as Float32Array), textTime));
    expectClose(out[UNET_OUTPUT]!, goldenTensor(io, "noise_pred_scalar_t"), { atol: ATOL, label: "noise_pred_scalar_t" });
  });
});
