// CLIP tokenizer vs transformers' CLIPTokenizer (ftfy installed) on the 183 prompts of golden/text/tokens.json.
import { describe, expect, it } from "vitest";
import { tokenizeLiteral } from "../../src/prompt/index.js";
import { ClipTokenizer } from "../../src/tokenizer/index.js";
import { goldenJson, goldenPath } from "../helpers/golden.js";

interface TokenRow {
  index: number;
  prompt: string;
  hf_ids: number[];
  hf_tokens: string[];
  sd1_input_ids_77: number[];
  sdxl_tokenizer_2_input_ids_77: number[];
}

const { prompts } = goldenJson<{ prompts: TokenRow[] }>("text", "tokens.json");
const bundled = ClipTokenizer.bundled();
const sd1 = ClipTokenizer.fromDir(goldenPath("text", "tokenizer"));
const sdxl2 = ClipTokenizer.fromDir(goldenPath("text", "tokenizer_2"));
const label = (row: TokenRow): string => `#${row.index} ${JSON.stringify(row.prompt).slice(0, 60)}`;

describe("golden CLIP tokenizer", () => {
  it("has all 183 reference prompts", () => {
    expect(prompts).toHaveLength(183);
  });

  it("special ids and pads match the reference configs", () => {
    expect([bundled.bosId, bundled.eosId, bundled.padId, bundled.modelMaxLength]).toEqual([49406, 49407, 49407, 77]);
    expect([sd1.bosId, sd1.eosId, sd1.padId, sd1.modelMaxLength]).toEqual([49406, 49407, 49407, 77]);
    expect([sdxl2.bosId, sdxl2.eosId, sdxl2.padId, sdxl2.modelMaxLength]).toEqual([49406, 49407, 0, 77]);
  });

  it.each(prompts.map((row) => [label(row), row] as const))("hf_ids and hf_tokens %s", (_, row) => {
    expect([bundled.bosId, ...bundled.encode(row.prompt), bundled.eosId]).toEqual(row.hf_ids);
    expect(bundled.tokens(row.prompt)).toEqual(row.hf_tokens.slice(1, -1));
  });

  it.each(prompts.map((row) => [label(row), row] as const))("vocab.json folder gives the same ids %s", (_, row) => {
    expect([sd1.bosId, ...sd1.encode(row.prompt), sd1.eosId]).toEqual(row.hf_ids);
  });

  it.each(prompts.map((row) => [label(row), row] as const))("sd1_input_ids_77 %s", (_, row) => {
    expect(tokenizeLiteral(bundled, row.prompt)).toEqual(row.sd1_input_ids_77);
    expect(tokenizeLiteral(sd1, row.prompt)).toEqual(row.sd1_input_ids_77);
  });

  it.each(prompts.map((row) => [label(row), row] as const))("sdxl_tokenizer_2_input_ids_77 %s", (_, row) => {
    expect(tokenizeLiteral(sdxl2, row.prompt)).toEqual(row.sdxl_tokenizer_2_input_ids_77);
  });
});
