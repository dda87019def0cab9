import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { readSafetensors } from "../checkpoint/safetensors.js";
import { float32, type Tensor } from "../tensor/tensor.js";
import { expectClose, goldenJson, goldenTensor } from "../../test/helpers/golden.js";
import { goldenModelDir } from "../../test/helpers/model-fixtures.js";
import { encode } from "./encode.js";

const dir = mkdtempSync(join(tmpdir(), "vellum-encode-"));
beforeAll(() => {
  process.env["VELLUM_CACHE_DIR"] ??= join(dir, "cache");
});
const PARTS = ["text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2"];
const prompts = goldenJson<{ prompts: string[]; negative_prompt: string }>("text", "encoders.json");

function row(t: Tensor, i: number): Tensor {
  const per = t.shape.slice(1).reduce((a, b) => a * b, 1);
  return float32([1, ...t.shape.slice(1)], (t.data as Float32Array).subarray(i * per, (i + 1) * per));
}

describe("vellum encode", () => {
  it("writes SDXL embeddings and pooled vectors equal to the reference", async () => {
    const out = join(dir, "sdxl.safetensors");
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    const i = 3;
    const code = await encode(["--model", goldenModelDir("sdxl", undefined, PARTS), "--prompt", prompts.prompts[i]!, "--negative-prompt", prompts.negative_prompt, "--clip-skip", "2", "--literal", "--out", out]);
    const printed = log.mock.calls.map((c) => String(c[0])).join("\n");
    log.mockRestore();
    expect(code).toBe(0);
    expect(printed).toMatch(/text_encoder: hidden_states\[\d+\]/);
    const t = readSafetensors(out);
    expect([...t.keys()].sort()).toEqual(["negative_pooled_prompt_embeds", "negative_prompt_embeds", "pooled_prompt_embeds", "prompt_embeds"]);
    const file = ["text", "sdxl_prompt_embeds.safetensors"];
    expectClose(t.get("prompt_embeds")!, row(goldenTensor(file, "clip_skip_2.prompt_embeds"), i), { scaled: 1e-4 });
    expectClose(t.get("pooled_prompt_embeds")!, row(goldenTensor(file, "clip_skip_2.pooled_prompt_embeds"), i), { scaled: 1e-4 });
  });

  it("exits 2 with the allowed range for an impossible clipSkip", async () => {
    const err = vi.spyOn(console, "error").mockImplementation(() => {});
    const code = await encode(["--model", goldenModelDir("sd1", undefined, PARTS), "--prompt", "a cat", "--clip-skip", "99", "--out", join(dir, "x.safetensors")]);
    const printed = err.mock.calls.map((c) => String(c[0])).join("\n");
    err.mockRestore();
    expect(code).toBe(2);
    expect(printed).toMatch(/between 0 and \d+/);
  });
});
