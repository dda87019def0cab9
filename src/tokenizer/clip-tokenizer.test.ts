import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ClipTokenizer } from "./clip-tokenizer.js";
import { BYTE_TO_UNICODE } from "./byte-map.js";
import { bpeWord } from "./bpe.js";

describe("byte map", () => {
  it("is a bijection onto printable characters", () => {
    expect(new Set(BYTE_TO_UNICODE).size).toBe(256);
    expect(BYTE_TO_UNICODE[0x41]).toBe("A");
    expect(BYTE_TO_UNICODE[0x20]).toBe("Ġ");
    expect(BYTE_TO_UNICODE[0x00]).toBe("Ā");
  });
});

describe("bpeWord", () => {
  it("merges the lowest-rank pair first, all occurrences at once", () => {
    const ranks = new Map([["a b", 0], ["ab ab", 1], ["b</w> x", 5]]);
    expect(bpeWord("abab", ranks)).toEqual(["ab", "a", "b</w>"]);
    expect(bpeWord("ababab", new Map([["a b", 0], ["ab ab", 1], ["a b</w>", 2]]))).toEqual(["abab", "ab</w>"]);
    expect(bpeWord("x", ranks)).toEqual(["x</w>"]);
  });
});

describe("ClipTokenizer", () => {
  const tok = ClipTokenizer.bundled();

  it("bundled() is cached and has CLIP's special ids", () => {
    expect(ClipTokenizer.bundled()).toBe(tok);
    expect([tok.bosId, tok.eosId, tok.padId, tok.modelMaxLength]).toEqual([49406, 49407, 49407, 77]);
  });

  it("splits digits one per token and marks word ends", () => {
    expect(tok.tokens("a 12")).toEqual(["a</w>", "1</w>", "2</w>"]);
  });

  it("encodes literal special tokens as their ids", () => {
    expect(tok.encode("<|endoftext|>")).toEqual([tok.eosId]);
    expect(tok.encode("<|ENDOFTEXT|>")).toEqual([tok.eosId]);
  });

  it("encodes a 10 000-character prompt", () => {
    const long = "a highly detailed matte painting, (cyberpunk city:1.2), neon ".repeat(170).slice(0, 10_000);
    expect(tok.encode(long).length).toBeGreaterThan(1000);
  });

  it("fromDir registers added special tokens such as SDXL's pad '!'", () => {
    const dir = mkdtempSync(join(tmpdir(), "vellum-tok-"));
    const src = join(import.meta.dirname, "../../../shared/golden/text/vocab");
    writeFileSync(join(dir, "vocab.json"), readFileSync(join(src, "vocab.json")));
    writeFileSync(join(dir, "merges.txt"), readFileSync(join(src, "merges.txt")));
    writeFileSync(join(dir, "special_tokens_map.json"), JSON.stringify({ pad_token: "!" }));
    writeFileSync(
      join(dir, "tokenizer_config.json"),
      JSON.stringify({ model_max_length: 77, added_tokens_decoder: { "0": { content: "!", special: true } } }),
    );
    const sdxl2 = ClipTokenizer.fromDir(dir);
    expect(sdxl2.padId).toBe(0);
    expect(sdxl2.encode("wow!!")).toEqual([...tok.encode("wow"), 0, 0]);
    expect(tok.encode("wow!!")).not.toContain(0);
  });
});
