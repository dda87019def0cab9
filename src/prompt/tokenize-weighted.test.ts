import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ClipTokenizer } from "../tokenizer/index.js";
import { tokenizeLiteral } from "./tokenize-literal.js";
import { tokenizeWeighted } from "./tokenize-weighted.js";

const tok = ClipTokenizer.bundled();
const BOS = tok.bosId;
const EOS = tok.eosId;
const [cat] = tok.encode("cat") as [number];
const [dog] = tok.encode("dog") as [number];
const [comma] = tok.encode(",") as [number];
const ones = (n: number): number[] => new Array<number>(n).fill(1);
const repeat = <T>(x: T, n: number): T[] => new Array<T>(n).fill(x);
/** BOS + content + EOS + pads to 77. */
const chunkIds = (content: number[], pad = EOS): number[] => [BOS, ...content, EOS, ...repeat(pad, 75 - content.length)];

describe("tokenizeWeighted", () => {
  it("empty prompt is one chunk of BOS + EOS + pads", () => {
    expect(tokenizeWeighted(tok, "")).toEqual([{ ids: chunkIds([]), weights: ones(77) }]);
  });

  it("weights follow their tokens; BOS/EOS/pads weigh 1", () => {
    const [chunk] = tokenizeWeighted(tok, "cat (dog:1.5) [cat]");
    expect(chunk!.ids).toEqual(chunkIds([cat, dog, cat]));
    expect(chunk!.weights).toEqual([1, 1, 1.5, 1 / 1.1, ...ones(73)]);
  });

  it("pads with the given pad id after the first EOS (OpenCLIP convention)", () => {
    expect(tokenizeWeighted(tok, "cat dog", { padId: 0 })[0]!.ids).toEqual(chunkIds([cat, dog], 0));
  });

  it("uses the tokenizer's pad by default", () => {
    const padded = Object.assign(Object.create(tok) as ClipTokenizer, { padId: 0 });
    expect(tokenizeWeighted(padded, "cat")[0]!.ids).toEqual(chunkIds([cat], 0));
  });

  it("BREAK starts a new chunk", () => {
    const chunks = tokenizeWeighted(tok, "cat BREAK dog");
    expect(chunks.map((c) => c.ids)).toEqual([chunkIds([cat]), chunkIds([dog])]);
  });

  it("BREAK at the start yields an empty first chunk, as A1111 does", () => {
    expect(tokenizeWeighted(tok, "BREAK cat").map((c) => c.ids)).toEqual([chunkIds([]), chunkIds([cat])]);
  });

  it("exactly 75 tokens fit one chunk with no padding", () => {
    const chunks = tokenizeWeighted(tok, "cat ".repeat(75));
    expect(chunks.map((c) => c.ids)).toEqual([[BOS, ...repeat(cat, 75), EOS]]);
  });

  it("long prompts continue in 75-token chunks", () => {
    const chunks = tokenizeWeighted(tok, "cat ".repeat(100));
    expect(chunks.map((c) => c.ids)).toEqual([[BOS, ...repeat(cat, 75), EOS], chunkIds(repeat(cat, 25))]);
  });

  it("a comma within the last 20 tokens moves the tail to the next chunk", () => {
    const prompt = `${"cat ".repeat(70)}, ${"(dog) ".repeat(10)}`;
    const chunks = tokenizeWeighted(tok, prompt);
    expect(chunks.map((c) => c.ids)).toEqual([chunkIds([...repeat(cat, 70), comma]), chunkIds(repeat(dog, 10))]);
    expect(chunks[1]!.weights).toEqual([1, ...repeat(1.1, 10), ...ones(66)]);
  });

  it("a comma further back than 20 tokens does not move anything", () => {
    const prompt = `${"cat ".repeat(50)}, ${"dog ".repeat(40)}`;
    const chunks = tokenizeWeighted(tok, prompt);
    expect(chunks.map((c) => c.ids)).toEqual([
      [BOS, ...repeat(cat, 50), comma, ...repeat(dog, 24), EOS],
      chunkIds(repeat(dog, 16)),
    ]);
  });

  it("never throws; every chunk is 77 ids and weights framed by BOS and EOS", () => {
    const alphabet = fc.constantFrom("(", ")", "[", "]", "\\", ":", "1.5", " ", "cat", "BREAK", ",", "é", "!", "😎");
    const prompts = fc.oneof(fc.array(alphabet, { maxLength: 200 }).map((xs) => xs.join("")), fc.string({ unit: "binary" }));
    fc.assert(
      fc.property(prompts, (prompt) => {
        const chunks = tokenizeWeighted(tok, prompt);
        expect(chunks.length).toBeGreaterThan(0);
        for (const c of chunks) {
          expect(c.ids).toHaveLength(77);
          expect(c.weights).toHaveLength(77);
          expect(c.ids[0]).toBe(BOS);
          expect(c.ids).toContain(EOS);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("tokenizeLiteral", () => {
  it("keeps BOS + the first 75 ids + EOS and pads to 77", () => {
    expect(tokenizeLiteral(tok, "cat dog")).toEqual(chunkIds([cat, dog]));
    expect(tokenizeLiteral(tok, "cat dog", { padId: 0 })).toEqual(chunkIds([cat, dog], 0));
    expect(tokenizeLiteral(tok, "cat ".repeat(80))).toEqual([BOS, ...repeat(cat, 75), EOS]);
  });

  it("does not interpret weighting syntax", () => {
    expect(tokenizeLiteral(tok, "(cat)")).toEqual(chunkIds(tok.encode("(cat)")));
  });
});
