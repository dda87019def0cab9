// Where a ClipTokenizer's tables come from: the bundled openai/CLIP merges list, or a diffusers `tokenizer/` folder.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { BYTE_ORDER, BYTE_TO_UNICODE } from "./byte-map.js";

export const BOS_TOKEN = "<|startoftext|>";
export const EOS_TOKEN = "<|endoftext|>";
/** openai/CLIP uses merges 1..48894 of the file (line 0 is a header): 49152 − 256 − 2 of them. */
const MERGE_COUNT = 49152 - 256 - 2;

export interface ClipVocabConfig {
  /** token string → id */
  encoder: Map<string, number>;
  /** merges in rank order, each `"left right"` */
  merges: string[];
  /** tokens split out of the raw text before clean-up and encoded as one id (transformers' added tokens) */
  addedTokens: string[];
  padToken: string;
  modelMaxLength: number;
}

/** The repository root: the nearest folder above this module that holds package.json (works from src/ and dist/). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("vellum: cannot locate package.json above the tokenizer module");
    dir = up;
  }
  return dir;
}

export function bundledVocabPath(): string {
  return join(packageRoot(), "assets", "clip", "bpe_simple_vocab_16e6.txt.gz");
}

/** openai/CLIP's construction: 256 byte characters, the same + "</w>", one token per merge, then BOS and EOS. */
export function bundledVocab(): ClipVocabConfig {
  const lines = gunzipSync(readFileSync(bundledVocabPath())).toString("utf-8").split("\n");
  const merges = lines.slice(1, 1 + MERGE_COUNT);
  const tokens = BYTE_ORDER.map((b) => BYTE_TO_UNICODE[b]!);
  tokens.push(...tokens.map((t) => `${t}</w>`));
  for (const m of merges) tokens.push(m.replace(" ", ""));
  tokens.push(BOS_TOKEN, EOS_TOKEN);
  const encoder = new Map(tokens.map((t, id) => [t, id]));
  return { encoder, merges, addedTokens: [BOS_TOKEN, EOS_TOKEN], padToken: EOS_TOKEN, modelMaxLength: 77 };
}

type TokenSpec = string | { content: string } | undefined;

function tokenContent(spec: TokenSpec): string | undefined {
  return typeof spec === "string" ? spec : spec?.content;
}

function readJson(path: string): Record<string, unknown> {
  return existsSync(path) ? (JSON.parse(readFileSync(path, "utf-8")) as Record<string, unknown>) : {};
}

/** A transformers `CLIPTokenizer.save_pretrained` folder: vocab.json, merges.txt and the two special-token files. */
export function vocabFromDir(dir: string): ClipVocabConfig {
  const vocab = JSON.parse(readFileSync(join(dir, "vocab.json"), "utf-8")) as Record<string, number>;
  const encoder = new Map(Object.entries(vocab));
  const merges = readFileSync(join(dir, "merges.txt"), "utf-8")
    .split("\n")
    .filter((line, i) => line.length > 0 && !(i === 0 && line.startsWith("#version")));
  const config = readJson(join(dir, "tokenizer_config.json"));
  const specialMap = readJson(join(dir, "special_tokens_map.json"));
  const added = (config["added_tokens_decoder"] ?? {}) as Record<string, { content: string }>;
  const addedTokens = [BOS_TOKEN, EOS_TOKEN];
  for (const [id, token] of Object.entries(added)) {
    if (!encoder.has(token.content)) encoder.set(token.content, Number(id));
    if (!addedTokens.includes(token.content)) addedTokens.push(token.content);
  }
  const padToken = tokenContent(specialMap["pad_token"] as TokenSpec) ?? tokenContent(config["pad_token"] as TokenSpec) ?? EOS_TOKEN;
  const maxLength = config["model_max_length"];
  const modelMaxLength = typeof maxLength === "number" && maxLength < 1e6 ? maxLength : 77;
  return { encoder, merges, addedTokens, padToken, modelMaxLength };
}
