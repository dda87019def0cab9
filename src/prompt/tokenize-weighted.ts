// Weighted prompt → 77-token chunks, as A1111's FrozenCLIPEmbedderWithCustomWordsBase.tokenize_line builds them:
// each parsed fragment is tokenised on its own, tokens fill 75-slot chunks, a full chunk moves the tokens after a
// comma within the last 20 slots to the next chunk, BREAK closes the chunk. Every chunk is
// BOS + content + EOS + pads (A1111 fills with EOS, then process_tokens overwrites everything after the first EOS
// with the pad id: EOS for CLIP-L, 0 for OpenCLIP). Weights are 1.0 on BOS, EOS and pads.
import type { ClipTokenizer } from "../tokenizer/index.js";
import { BREAK_WEIGHT, parsePromptWeights } from "./parse-prompt-weights.js";

export interface PromptChunk {
  ids: number[];
  weights: number[];
}

const CHUNK_LENGTH = 75;
const COMMA_BACKTRACK = 20;

export function tokenizeWeighted(tok: ClipTokenizer, prompt: string, opts: { padId?: number } = {}): PromptChunk[] {
  const padId = opts.padId ?? tok.padId;
  const comma = tok.encode(",")[0];
  const chunks: PromptChunk[] = [];
  let ids: number[] = [];
  let weights: number[] = [];
  let lastComma = -1;

  const nextChunk = (): void => {
    const fill = CHUNK_LENGTH - ids.length;
    const full = [tok.bosId, ...ids, ...new Array<number>(fill).fill(tok.eosId), tok.eosId];
    const firstEos = full.indexOf(tok.eosId);
    chunks.push({
      ids: full.map((id, i) => (i > firstEos ? padId : id)),
      weights: [1, ...weights, ...new Array<number>(fill + 1).fill(1)],
    });
    ids = [];
    weights = [];
    lastComma = -1;
  };

  for (const { text, weight } of parsePromptWeights(prompt)) {
    if (text === "BREAK" && weight === BREAK_WEIGHT) {
      nextChunk();
      continue;
    }
    for (const id of tok.encode(text)) {
      if (id === comma) lastComma = ids.length;
      else if (ids.length === CHUNK_LENGTH && lastComma !== -1 && ids.length - lastComma <= COMMA_BACKTRACK) {
        const cut = lastComma + 1;
        const movedIds = ids.slice(cut);
        const movedWeights = weights.slice(cut);
        ids = ids.slice(0, cut);
        weights = weights.slice(0, cut);
        nextChunk();
        ids = movedIds;
        weights = movedWeights;
      }
      if (ids.length === CHUNK_LENGTH) nextChunk();
      ids.push(id);
      weights.push(weight);
    }
  }
  if (ids.length > 0 || chunks.length === 0) nextChunk();
  return chunks;
}
