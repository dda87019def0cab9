// The tiny CLIP text encoders against transformers' outputs for the 12 prompts of encoders.json.
// Tolerance (text README): |a − b| ≤ 1e-4 · max(1, max|golden|) per tensor.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SafetensorsFile } from "../../src/checkpoint/safetensors.js";
import { safetensorsWeights } from "../../src/checkpoint/weights.js";
import { buildClipTextGraph, parseClipTextConfig } from "../../src/models/clip-text.js";
import { createSession } from "../../src/runtime/index.js";
import type { Tensor } from "../../src/tensor/tensor.js";
import { expectClose, goldenJson, goldenPath, goldenTensor } from "../helpers/golden.js";

const TOL = { scaled: 1e-4 };

beforeAll(() => {
  process.env["VELLUM_CACHE_DIR"] ??= mkdtempSync(join(tmpdir(), "vellum-cache-"));
});

const files: SafetensorsFile[] = [];
afterAll(() => files.forEach((f) => f.close()));

/** The reference outputs of each tiny encoder (text README, "*.outputs.safetensors"). */
const OUTPUTS = {
  "clip-l-tiny": "clip-l-tiny.outputs.safetensors",
  "clip-g-tiny": "clip-g-tiny.outputs.safetensors",
} as const;

async function runEncoder(model: keyof typeof OUTPUTS): Promise<Record<string, Tensor>> {
  const config = parseClipTextConfig(goldenJson("text", "models", model, "config.json"));
  const file = SafetensorsFile.open(goldenPath("text", "models", model, "model.safetensors"));
  files.push(file);
  const session = await createSession(buildClipTextGraph(config, safetensorsWeights(file)));
  try {
    return await session.run({ input_ids: goldenTensor(["text", OUTPUTS[model]], "input_ids") });
  } finally {
    await session.release();
  }
}

describe.each(["clip-l-tiny", "clip-g-tiny"] as const)("%s", (model) => {
  const outputs = OUTPUTS[model];
  let out: Record<string, Tensor>;
  beforeAll(async () => {
    out = await runEncoder(model);
  });

  it.each([
    ["hidden_states", "hidden_states"],
    ["final_layer_norm_hidden_states", "final_layer_norm_of_each_hidden_state"],
    ["last_hidden_state", "last_hidden_state"],
    ["pooler_output", "pooler_output"],
  ])("%s matches %s", (ours, theirs) => {
    expectClose(out[ours]!, goldenTensor(["text", outputs], theirs), { ...TOL, label: `${model} ${ours}` });
  });

  it("text_embeds exist exactly when the checkpoint has a projection", () => {
    if (model === "clip-g-tiny") expectClose(out["text_embeds"]!, goldenTensor(["text", outputs], "text_embeds"), { ...TOL, label: `${model} text_embeds` });
    else expect(out["text_embeds"]).toBeUndefined();
  });
});
