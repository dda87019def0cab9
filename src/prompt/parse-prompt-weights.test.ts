import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BREAK_WEIGHT, parsePromptWeights, type WeightedText } from "./parse-prompt-weights.js";

const up = 1.1;
const down = 1 / 1.1;

// [prompt, expected runs]; weights are written as the products A1111 forms, so float rounding is the same
const table: Array<[string, WeightedText[]]> = [
  ["", [{ text: "", weight: 1 }]],
  ["normal text", [{ text: "normal text", weight: 1 }]],
  ["an (important) word", [{ text: "an ", weight: 1 }, { text: "important", weight: up }, { text: " word", weight: 1 }]],
  ["((word))", [{ text: "word", weight: 1 * up * up }]],
  ["(((word)))", [{ text: "word", weight: 1 * up * up * up }]],
  ["[word]", [{ text: "word", weight: down }]],
  ["[[word]]", [{ text: "word", weight: 1 * down * down }]],
  ["(word:1.3)", [{ text: "word", weight: 1.3 }]],
  ["(word : 1.3 )", [{ text: "word ", weight: 1.3 }]],
  ["(word:.5)", [{ text: "word", weight: 0.5 }]],
  ["(word:2.)", [{ text: "word", weight: 2 }]],
  ["(word:+1.5)", [{ text: "word", weight: 1.5 }]],
  ["(word:-0.5)", [{ text: "word", weight: -0.5 }]],
  ["((word:1.5))", [{ text: "word", weight: 1.5 * up }]],
  ["([word])", [{ text: "word", weight: 1 * down * up }]],
  ["(red:1.5) hair, (blue:0.8) eyes", [
    { text: "red", weight: 1.5 }, { text: " hair, ", weight: 1 }, { text: "blue", weight: 0.8 }, { text: " eyes", weight: 1 },
  ]],
  ["(unnecessary)(parens)", [{ text: "unnecessaryparens", weight: up }]],
  ["(unbalanced", [{ text: "unbalanced", weight: up }]],
  ["[unbalanced", [{ text: "unbalanced", weight: down }]],
  ["a (b [c", [{ text: "a ", weight: 1 }, { text: "b ", weight: up }, { text: "c", weight: 1 * up * down }]],
  ["stray) and] closers", [{ text: "stray) and] closers", weight: 1 }]],
  ["\\(literal\\]", [{ text: "(literal]", weight: 1 }]],
  ["\\[x\\) \\\\ y", [{ text: "[x) \\ y", weight: 1 }]],
  ["lone\\backslash", [{ text: "lonebackslash", weight: 1 }]],
  ["(escaped \\) inside)", [{ text: "escaped ) inside", weight: up }]],
  ["a:b", [{ text: "a:b", weight: 1 }]],
  ["time 10:30", [{ text: "time 10:30", weight: 1 }]],
  ["no bracket:1.5)", [{ text: "no bracket:1.5)", weight: 1 }]],
  ["(a:1.2.3)", [{ text: "a:1.2.3", weight: up }]],
  ["(a:.)", [{ text: "a:.", weight: up }]],
  ["(a (b:1.5", [{ text: "a ", weight: up }, { text: "b:1.5", weight: 1 * up * up }]],
  ["photo BREAK portrait", [
    { text: "photo", weight: 1 }, { text: "BREAK", weight: BREAK_WEIGHT }, { text: "portrait", weight: 1 },
  ]],
  ["BREAK", [{ text: "", weight: 1 }, { text: "BREAK", weight: BREAK_WEIGHT }, { text: "", weight: 1 }]],
  ["(cat) BREAK (dog)", [
    { text: "cat", weight: up }, { text: "", weight: 1 }, { text: "BREAK", weight: BREAK_WEIGHT }, { text: "", weight: 1 },
    { text: "dog", weight: up },
  ]],
  ["BREAKFAST break Break", [{ text: "BREAKFAST break Break", weight: 1 }]],
  ["caféBREAK", [{ text: "caféBREAK", weight: 1 }]],
];

describe("parsePromptWeights", () => {
  it.each(table)("%j", (prompt, expected) => {
    expect(parsePromptWeights(prompt)).toEqual(expected);
  });

  it("nesting multiplies by 1.1 per level", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z ]{1,12}$/), fc.integer({ min: 1, max: 8 }), (word, depth) => {
        let expected = 1;
        for (let i = 0; i < depth; i++) expected *= up;
        expect(parsePromptWeights("(".repeat(depth) + word + ")".repeat(depth))).toEqual([{ text: word, weight: expected }]);
      }),
    );
  });

  it("never throws and always returns merged, non-empty runs on arbitrary input", () => {
    const alphabet = fc.constantFrom("(", ")", "[", "]", "\\", ":", "1", ".", "5", " ", "a", "B", "BREAK", "-", "+", "é", ",");
    const prompts = fc.oneof(fc.array(alphabet, { maxLength: 40 }).map((xs) => xs.join("")), fc.string(), fc.string({ unit: "binary" }));
    fc.assert(
      fc.property(prompts, (prompt) => {
        const runs = parsePromptWeights(prompt);
        expect(runs.length).toBeGreaterThan(0);
        for (let i = 0; i + 1 < runs.length; i++) expect(runs[i]!.weight).not.toBe(runs[i + 1]!.weight);
        for (const r of runs) expect(typeof r.weight).toBe("number");
      }),
      { numRuns: 2000 },
    );
  });

  it("text without syntax characters comes back unchanged", () => {
    fc.assert(
      fc.property(fc.string().filter((s) => !/[()[\]\\:]|BREAK/.test(s)), (prompt) => {
        expect(parsePromptWeights(prompt)).toEqual([{ text: prompt, weight: 1 }]);
      }),
    );
  });
});
