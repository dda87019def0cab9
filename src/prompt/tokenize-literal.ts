// The 77 ids diffusers' encode_prompt feeds the text encoder: BOS + first 75 ids + EOS, padded (no weighting syntax).
import type { ClipTokenizer } from "../tokenizer/index.js";

export function tokenizeLiteral(tok: ClipTokenizer, text: string, opts: { padId?: number } = {}): number[] {
  const length = tok.modelMaxLength;
  const ids = [tok.bosId, ...tok.encode(text).slice(0, length - 2), tok.eosId];
  const padId = opts.padId ?? tok.padId;
  while (ids.length < length) ids.push(padId);
  return ids;
}
