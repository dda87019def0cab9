// Tokenizer speed: a 10 000-character prompt, cold (empty BPE cache) and warm. Run: npx tsx bench/tokenize.ts
import { ClipTokenizer } from "../src/tokenizer/index.js";
import { tokenizeWeighted } from "../src/prompt/index.js";

const LENGTH = 10_000;

/** Deterministic pseudo-random words (mostly unseen by the cache) mixed with prompt syntax and non-ASCII text. */
function makePrompt(length: number): string {
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const extras = ["(masterpiece:1.2)", "[blurry]", "café", "東京", "😎", "8k", "BREAK", "&amp;", "don't"];
  let text = "";
  while (text.length < length) {
    const word = rand(4) === 0 ? extras[rand(extras.length)]! : Array.from({ length: 3 + rand(9) }, () => String.fromCharCode(97 + rand(26))).join("");
    text += word + (rand(6) === 0 ? ", " : " ");
  }
  return text.slice(0, length);
}

function time(label: string, fn: () => number): void {
  const start = performance.now();
  const n = fn();
  console.log(`${label.padEnd(44)} ${(performance.now() - start).toFixed(2).padStart(8)} ms  (${n} ids)`);
}

const prompt = makePrompt(LENGTH);
let tok!: ClipTokenizer;
time("load bundled vocabulary", () => {
  tok = ClipTokenizer.bundled();
  return 0;
});
time(`encode ${LENGTH} chars, cold cache`, () => tok.encode(prompt).length);
time(`encode ${LENGTH} chars, warm cache`, () => tok.encode(prompt).length);
time(`tokenizeWeighted ${LENGTH} chars (warm)`, () => tokenizeWeighted(tok, prompt).length * 77);
