// encodePrompts against diffusers 0.27.2 encode_prompt (text README): SD1 and SDXL, clip_skip None/1/2/3 (= our 0..3),
// symmetric negatives (our rule), A1111 rows (A1111 n = ours n − 1), SDXL zero negatives.
// Tolerance (text README): |a − b| ≤ 1e-4 · max(1, max|golden|) per tensor.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeModel, loadDiffusersFolder, type PipelineModel } from "../../src/checkpoint/model.js";
import { ClipSkipError, createConditioner, type Conditioner, type PromptEmbeddings } from "../../src/conditioning/index.js";
import { float32, type Tensor } from "../../src/tensor/tensor.js";
import { compare, expectClose, goldenJson, goldenTensor } from "../helpers/golden.js";
import { goldenModelDir } from "../helpers/model-fixtures.js";

const TOL = { scaled: 1e-4 };
const PARTS = ["text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2"];

interface EncodersJson {
  prompts: string[];
  negative_prompt: string;
  sd1_prompt_embeds: { clip_skip_table: { clip_skip: number | null; hidden_state_index: number; final_layer_norm: boolean }[] };
  sdxl_prompt_embeds: {
    clip_skip_table: { clip_skip: number | null; text_encoder_hidden_state_index: number; text_encoder_2_hidden_state_index: number; final_layer_norm: boolean }[];
  };
}
const enc = goldenJson<EncodersJson>("text", "encoders.json");
const layersOf = (model: string) => goldenJson<{ num_hidden_layers: number }>("text", "models", model, "config.json").num_hidden_layers;

/** Row i of a golden [P, ...] tensor as [1, ...]. */
function row(t: Tensor, i: number): Tensor {
  const per = t.shape.slice(1).reduce((a, b) => a * b, 1);
  return float32([1, ...t.shape.slice(1)], (t.data as Float32Array).subarray(i * per, (i + 1) * per));
}

const CLIP_SKIPS = [0, 1, 2, 3];
const key = (c: number) => (c === 0 ? "clip_skip_none" : `clip_skip_${c}`);

beforeAll(() => {
  process.env["VELLUM_CACHE_DIR"] ??= mkdtempSync(join(tmpdir(), "vellum-cache-"));
});

/** diffusers encode_prompt results (positive, and negatives under diffusers' rule) and the symmetric negatives. */
const EMBEDS = {
  sd1: { file: "sd1_prompt_embeds.safetensors", symmetric: "sd1_prompt_embeds_symmetric.safetensors" },
  sdxl: { file: "sdxl_prompt_embeds.safetensors", symmetric: "sdxl_prompt_embeds_symmetric.safetensors" },
} as const;

describe.each(["sd1", "sdxl"] as const)("%s encodePrompts", (family) => {
  const { file, symmetric } = EMBEDS[family];
  let model: PipelineModel;
  let cond: Conditioner;
  const results: PromptEmbeddings[][] = [];

  beforeAll(async () => {
    model = loadDiffusersFolder(goldenModelDir(family, undefined, PARTS));
    cond = await createConditioner(model);
    for (const prompt of enc.prompts) {
      results.push(await cond.encodeClipSkips({ prompt, negativePrompt: enc.negative_prompt, literal: true }, CLIP_SKIPS));
    }
  });
  afterAll(async () => {
    await cond.release();
    closeModel(model);
  });

  it("is the family the folder says", () => {
    expect(model.family).toBe(family);
  });

  it("uses one run per text encoder for the whole clipSkip sweep", () => {
    expect(cond.runs).toBe(enc.prompts.length * (family === "sdxl" ? 2 : 1));
  });

  it.each(CLIP_SKIPS)("clipSkip %i: prompt_embeds of every prompt", (c) => {
    enc.prompts.forEach((_, i) => {
      expectClose(results[i]![c]!.promptEmbeds, row(goldenTensor(["text", file], `${key(c)}.prompt_embeds`), i), { ...TOL, label: `${family} c=${c} prompt ${i}` });
      if (family === "sdxl") {
        const pooled = row(goldenTensor(["text", file], `${key(c)}.pooled_prompt_embeds`), i);
        expectClose(results[i]![c]!.pooledPromptEmbeds!, pooled, { ...TOL, label: `${family} c=${c} pooled ${i}` });
      }
    });
  });

  it.each(CLIP_SKIPS)("clipSkip %i: negative embeddings use the same layer (symmetric rule)", (c) => {
    enc.prompts.forEach((_, i) => {
      const source = c === 0 ? file : symmetric;
      const neg = row(goldenTensor(["text", source], `${key(c)}.negative_prompt_embeds`), i);
      expectClose(results[i]![c]!.negativePromptEmbeds, neg, { ...TOL, label: `${family} c=${c} negative ${i}` });
      if (family === "sdxl") {
        const pooled = row(goldenTensor(["text", source], `${key(c)}.negative_pooled_prompt_embeds`), i);
        expectClose(results[i]![c]!.negativePooledPromptEmbeds!, pooled, { ...TOL, label: `${family} c=${c} negative pooled ${i}` });
      }
    });
  });

  it("records the hidden-state index and final-LN use of the reference table", () => {
    for (const c of CLIP_SKIPS) {
      const layers = results[0]![c]!.layers;
      if (family === "sd1") {
        const rowOf = enc.sd1_prompt_embeds.clip_skip_table.find((r) => (r.clip_skip ?? 0) === c)!;
        expect(layers).toMatchObject([{ encoder: "text_encoder", hiddenStateIndex: rowOf.hidden_state_index, finalLayerNorm: rowOf.final_layer_norm }]);
      } else {
        const rowOf = enc.sdxl_prompt_embeds.clip_skip_table.find((r) => (r.clip_skip ?? 0) === c)!;
        expect(layers).toMatchObject([
          { encoder: "text_encoder", hiddenStateIndex: rowOf.text_encoder_hidden_state_index, finalLayerNorm: rowOf.final_layer_norm },
          { encoder: "text_encoder_2", hiddenStateIndex: rowOf.text_encoder_2_hidden_state_index, finalLayerNorm: rowOf.final_layer_norm },
        ]);
      }
    }
  });

  it("clipSkip c and c + 1 differ by far more than the tolerance", () => {
    for (let c = 0; c + 1 < CLIP_SKIPS.length; c++) {
      const d = compare(results[0]![c + 1]!.promptEmbeds, results[0]![c]!.promptEmbeds);
      expect(d.relL2, `c=${c} vs ${c + 1}`).toBeGreaterThan(0.1);
    }
  });

  it("rejects clipSkip beyond the layers available, naming the range, without clamping", async () => {
    const max = family === "sd1" ? layersOf("clip-l-tiny") - 1 : Math.min(layersOf("clip-l-tiny"), layersOf("clip-g-tiny")) - 2;
    expect(cond.maxClipSkip).toBe(max);
    await expect(cond.encode({ prompt: "a cat", clipSkip: max })).resolves.toBeDefined();
    const err = await cond.encode({ prompt: "a cat", clipSkip: max + 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClipSkipError);
    expect((err as ClipSkipError).code).toBe("invalidClipSkip");
    expect((err as ClipSkipError).message).toContain(`between 0 and ${max}`);
    await expect(cond.encode({ prompt: "a cat", clipSkip: -1 })).rejects.toBeInstanceOf(ClipSkipError);
  });

  it("weighted mode equals literal mode for plain one-chunk prompts", async () => {
    for (const i of [0, 3]) {
      const r = await cond.encode({ prompt: enc.prompts[i]!, negativePrompt: enc.negative_prompt, clipSkip: 1 });
      expectClose(r.promptEmbeds, row(goldenTensor(["text", file], "clip_skip_1.prompt_embeds"), i), { ...TOL, label: `weighted ${i}` });
    }
  });

  it("pads the shorter prompt with empty chunks so both have the same length", async () => {
    const long = `${enc.prompts[5]} ${enc.prompts[5]}`; // well over 75 tokens
    const r = await cond.encode({ prompt: long, negativePrompt: enc.negative_prompt });
    expect(r.chunks).toBeGreaterThan(1);
    expect(r.promptEmbeds.shape).toEqual([1, 77 * r.chunks, r.negativePromptEmbeds.shape[2]]);
    expect(r.negativePromptEmbeds.shape).toEqual(r.promptEmbeds.shape);
    // the negative's second chunk is the empty prompt's embedding (golden prompt 2 is "")
    const per = 77 * r.negativePromptEmbeds.shape[2]!;
    const second = float32([1, 77, r.negativePromptEmbeds.shape[2]!], r.negativePromptEmbeds.data.subarray(per, 2 * per));
    expectClose(second, row(goldenTensor(["text", file], "clip_skip_none.prompt_embeds"), enc.prompts.indexOf("")), { ...TOL, label: "empty chunk" });
  });

  if (family === "sdxl") {
    it("without a negative prompt uses all-zero negative embeddings and pooled vector", async () => {
      const r = await cond.encode({ prompt: enc.prompts[0]!, literal: true });
      expect(r.negativePromptEmbeds.shape).toEqual(r.promptEmbeds.shape);
      expect(r.negativePromptEmbeds.data.every((v) => v === 0)).toBe(true);
      expect(r.negativePooledPromptEmbeds!.shape).toEqual(r.pooledPromptEmbeds!.shape);
      expect(r.negativePooledPromptEmbeds!.data.every((v) => v === 0)).toBe(true);
      expectClose(r.promptEmbeds, row(goldenTensor(["text", file], "clip_skip_none.prompt_embeds"), 0), TOL);
    });

    it("encodes an explicit empty negative prompt", async () => {
      const r = await cond.encode({ prompt: enc.prompts[0]!, negativePrompt: "", literal: true });
      const empty = enc.prompts.indexOf("");
      expectClose(r.negativePromptEmbeds, row(goldenTensor(["text", file], "clip_skip_none.prompt_embeds"), empty), TOL);
      expectClose(r.negativePooledPromptEmbeds!, row(goldenTensor(["text", file], "clip_skip_none.pooled_prompt_embeds"), empty), TOL);
    });
  } else {
    it.each([1, 2, 3, 4])("A1111 'Clip skip: %i' equals our clipSkip n − 1", (n) => {
      enc.prompts.forEach((_, i) => {
        const want = row(goldenTensor(["text", file], `a1111_stop_at_last_layers_${n}.prompt_embeds`), i);
        expectClose(results[i]![n - 1]!.promptEmbeds, want, { ...TOL, label: `A1111 ${n} prompt ${i}` });
      });
    });
  }
});

describe("sd2 encodePrompts", () => {
  const io = goldenJson<{ prompts: string[] }>("diffusion", "sd2", "models", "text_encoder_io.json");
  const ioFile = ["diffusion", "sd2", "models", "text_encoder_io.safetensors"];
  let model: PipelineModel;
  let cond: Conditioner;
  beforeAll(async () => {
    model = loadDiffusersFolder(goldenModelDir("sd2", undefined, ["text_encoder", "tokenizer"]));
    cond = await createConditioner(model);
  });
  afterAll(async () => {
    await cond.release();
    closeModel(model);
  });

  it("clipSkip 0 is the diffusers encoder's last_hidden_state (pad 0 tokenizer, gelu, argmax pooling config)", async () => {
    expect(model.family).toBe("sd2");
    for (const [i, prompt] of io.prompts.entries()) {
      const r = await cond.encode({ prompt, literal: true });
      expect(r.layers).toMatchObject([{ encoder: "text_encoder", finalLayerNorm: true }]);
      expectClose(r.promptEmbeds, row(goldenTensor(ioFile, "last_hidden_state"), i), { ...TOL, label: `sd2 prompt ${i}` });
      // SD2 has no zero-negative rule: a missing negative prompt is the encoded empty string
      expect(r.negativePromptEmbeds.data.some((v) => v !== 0)).toBe(true);
      expect(r.pooledPromptEmbeds).toBeUndefined();
    }
  });

  it("allows clipSkip up to L − 1 and no further", async () => {
    expect(cond.maxClipSkip).toBe(goldenJson<{ num_hidden_layers: number }>("diffusion", "sd2", "models", "text_encoder", "config.json").num_hidden_layers - 1);
    await expect(cond.encode({ prompt: "a cat", clipSkip: cond.maxClipSkip + 1 })).rejects.toBeInstanceOf(ClipSkipError);
  });
});
