// `vellum tokenize`: the CLIP token ids of a prompt (untruncated), or its weighted 77-token chunks.
import { parseArgs } from "node:util";
import { tokenizeWeighted } from "../prompt/index.js";
import { ClipTokenizer } from "../tokenizer/index.js";

const USAGE = `usage: vellum tokenize [--tokenizer DIR] [--json] [--chunks] [--] TEXT...

Prints the CLIP token ids of TEXT as [BOS, …, EOS], untruncated, and the BPE tokens.

options:
  --tokenizer DIR  a diffusers tokenizer folder (vocab.json, merges.txt, …); default: the bundled CLIP vocabulary
  --json           print one JSON value only (the id array, or the chunk list with --chunks)
  --chunks         parse the weighting syntax ((word:1.2), [word], BREAK) and print the 77-id chunks with weights
  --               end of options, so a prompt may start with "-"
  -h, --help       this text`;

function parse(args: string[]): { text: string; dir?: string; json: boolean; chunks: boolean } | "help" {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      tokenizer: { type: "string" },
      json: { type: "boolean", default: false },
      chunks: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help";
  if (positionals.length === 0) throw new Error("missing TEXT");
  const text = positionals.join(" ");
  return { text, json: values.json, chunks: values.chunks, ...(values.tokenizer === undefined ? {} : { dir: values.tokenizer }) };
}

const list = (xs: readonly (number | string)[]): string => `[${xs.join(", ")}]`;

export async function tokenize(args: string[]): Promise<number> {
  let options: ReturnType<typeof parse>;
  try {
    options = parse(args);
  } catch (err) {
    console.error(`vellum tokenize: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 2;
  }
  if (options === "help") {
    console.log(USAGE);
    return 0;
  }
  const tok = options.dir === undefined ? ClipTokenizer.bundled() : ClipTokenizer.fromDir(options.dir);

  if (options.chunks) {
    const chunks = tokenizeWeighted(tok, options.text);
    if (options.json) console.log(JSON.stringify(chunks));
    else chunks.forEach((c, i) => console.log(`chunk ${i}\n  ids     ${list(c.ids)}\n  weights ${list(c.weights)}`));
    return 0;
  }
  const ids = [tok.bosId, ...tok.encode(options.text), tok.eosId];
  if (options.json) {
    console.log(JSON.stringify(ids));
    return 0;
  }
  console.log(list(ids));
  console.log(`${ids.length} ids: ${tok.tokens(options.text).join(" ")}`);
  return 0;
}
