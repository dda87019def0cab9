// Byte-pair encoding of one word: start from its characters ("</w>" glued to the last one) and repeatedly merge
// every occurrence of the adjacent pair with the lowest merge rank, as openai/CLIP's `bpe()` does.

/** Merge ranks keyed by `"left right"` (tokens never contain a space: the byte map spells 0x20 as "Ġ"). */
export type MergeRanks = ReadonlyMap<string, number>;

export function bpeWord(word: string, ranks: MergeRanks): string[] {
  const chars = Array.from(word);
  if (chars.length === 0) return [];
  let symbols = chars.slice(0, -1);
  symbols.push(`${chars[chars.length - 1]}</w>`);
  while (symbols.length > 1) {
    let best = Infinity;
    let first = "";
    let second = "";
    for (let i = 0; i < symbols.length - 1; i++) {
      const rank = ranks.get(`${symbols[i]} ${symbols[i + 1]}`);
      if (rank !== undefined && rank < best) {
        best = rank;
        first = symbols[i]!;
        second = symbols[i + 1]!;
      }
    }
    if (best === Infinity) break;
    const merged: string[] = [];
    for (let i = 0; i < symbols.length; i++) {
      if (i < symbols.length - 1 && symbols[i] === first && symbols[i + 1] === second) {
        merged.push(first + second);
        i++;
      } else {
        merged.push(symbols[i]!);
      }
    }
    symbols = merged;
  }
  return symbols;
}
