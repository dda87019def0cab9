// AUTOMATIC1111's prompt-attention syntax (modules/prompt_parser.py, parse_prompt_attention), re-derived:
//   (text) ×1.1 per level · [text] ÷1.1 per level · (text:1.3) sets ×1.3 · \( \) \[ \] \\ are literal
//   BREAK (a whole word, upper case) starts a new 75-token chunk · unclosed brackets are closed at the end
// Adjacent runs with equal weight are merged. A lone backslash is dropped, as in A1111. Where A1111 would crash
// (a weight such as "1.2.3" that Python's float() rejects) we read the text as if it were not a weight: ":1.2.3" stays
// literal and ")" closes the bracket with ×1.1.

export interface WeightedText {
  text: string;
  weight: number;
}

/** The BREAK marker in parsed output. */
export const BREAK_WEIGHT = -1;

const ROUND = 1.1;
const SQUARE = 1 / 1.1;
const TOKEN = /\\\(|\\\)|\\\[|\\\]|\\\\|\\|\(|\[|:\s*([+-]?[.\d]+)\s*\)|\)|\]|[^\\()[\]:]+|:/gu;
const BREAK = /\s*(?<![\p{L}\p{N}_])BREAK(?![\p{L}\p{N}_])\s*/u;
const PY_FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)$/;

export function parsePromptWeights(prompt: string): WeightedText[] {
  const res: WeightedText[] = [];
  const round: number[] = [];
  const square: number[] = [];
  const multiplyFrom = (start: number, factor: number): void => {
    for (let i = start; i < res.length; i++) res[i]!.weight *= factor;
  };
  const pushText = (text: string): void => {
    text.split(BREAK).forEach((part, i) => {
      if (i > 0) res.push({ text: "BREAK", weight: BREAK_WEIGHT });
      res.push({ text: part, weight: 1 });
    });
  };

  for (const m of prompt.matchAll(TOKEN)) {
    const text = m[0];
    const weight = m[1];
    if (text.startsWith("\\")) res.push({ text: text.slice(1), weight: 1 });
    else if (text === "(") round.push(res.length);
    else if (text === "[") square.push(res.length);
    else if (weight !== undefined && round.length > 0) {
      if (PY_FLOAT.test(weight)) multiplyFrom(round.pop()!, Number(weight));
      else {
        pushText(text.slice(0, -1)); // not a number: the ":…" is text and ")" closes as a plain bracket
        multiplyFrom(round.pop()!, ROUND);
      }
    } else if (text === ")" && round.length > 0) multiplyFrom(round.pop()!, ROUND);
    else if (text === "]" && square.length > 0) multiplyFrom(square.pop()!, SQUARE);
    else pushText(text);
  }
  for (const start of round) multiplyFrom(start, ROUND);
  for (const start of square) multiplyFrom(start, SQUARE);
  if (res.length === 0) res.push({ text: "", weight: 1 });

  for (let i = 0; i + 1 < res.length; ) {
    if (res[i]!.weight === res[i + 1]!.weight) {
      res[i]!.text += res[i + 1]!.text;
      res.splice(i + 1, 1);
    } else i++;
  }
  return res;
}
