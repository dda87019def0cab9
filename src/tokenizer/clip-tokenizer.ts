// CLIP's BPE tokenizer, id-for-id equal to transformers' CLIPTokenizer (with ftfy) and openai/CLIP's SimpleTokenizer.
import { bpeWord, type MergeRanks } from "./bpe.js";
import { toByteLevel } from "./byte-map.js";
import { cleanText } from "./clean-text.js";
import { BOS_TOKEN, EOS_TOKEN, bundledVocab, vocabFromDir, type ClipVocabConfig } from "./vocab.js";

const WORD = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;
const CACHE_LIMIT = 20_000;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

let bundledInstance: ClipTokenizer | undefined;

export class ClipTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly modelMaxLength: number;
  private readonly encoder: ReadonlyMap<string, number>;
  private readonly ranks: MergeRanks;
  private readonly addedSplit: RegExp;
  private readonly added: ReadonlySet<string>;
  private readonly cache = new Map<string, string[]>();

  constructor(config: ClipVocabConfig) {
    this.encoder = config.encoder;
    this.ranks = new Map(config.merges.map((m, rank) => [m, rank]));
    this.added = new Set(config.addedTokens);
    // longest first, like transformers' trie, so one added token never shadows a longer one
    const alternatives = [...config.addedTokens].sort((a, b) => b.length - a.length).map(escapeRegExp);
    this.addedSplit = new RegExp(`(${alternatives.join("|")})`, "u");
    this.bosId = this.idOf(BOS_TOKEN);
    this.eosId = this.idOf(EOS_TOKEN);
    this.padId = this.idOf(config.padToken);
    this.modelMaxLength = config.modelMaxLength;
  }

  /** The openai/CLIP vocabulary shipped in assets/clip (pad = EOS 49407); built once. */
  static bundled(): ClipTokenizer {
    bundledInstance ??= new ClipTokenizer(bundledVocab());
    return bundledInstance;
  }

  /** A diffusers `tokenizer/` or `tokenizer_2/` folder; pad token (and added tokens such as SDXL's "!") from its files. */
  static fromDir(dir: string): ClipTokenizer {
    return new ClipTokenizer(vocabFromDir(dir));
  }

  /** BPE token ids of a text, without BOS/EOS and untruncated. */
  encode(text: string): number[] {
    return this.tokens(text).map((t) => this.encoder.get(t) ?? this.eosId); // unk_token is <|endoftext|>
  }

  /** BPE token strings in the byte-level alphabet ("</w>" ends a word). */
  tokens(text: string): string[] {
    const out: string[] = [];
    for (const piece of text.split(this.addedSplit)) {
      if (this.added.has(piece)) out.push(piece);
      else if (piece.length > 0) this.tokensOfPiece(piece, out);
    }
    return out;
  }

  private tokensOfPiece(piece: string, out: string[]): void {
    for (const match of cleanText(piece).matchAll(WORD)) {
      const word = match[0];
      if (word === BOS_TOKEN || word === EOS_TOKEN) out.push(word);
      else out.push(...this.bpe(toByteLevel(word)));
    }
  }

  private bpe(word: string): string[] {
    let symbols = this.cache.get(word);
    if (symbols === undefined) {
      symbols = bpeWord(word, this.ranks);
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(word, symbols);
    }
    return symbols;
  }

  private idOf(token: string): number {
    const id = this.encoder.get(token);
    if (id === undefined) throw new Error(`CLIP vocabulary has no token ${JSON.stringify(token)}`);
    return id;
  }
}
