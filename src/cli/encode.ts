// `vellum encode`: prompt (+ negative) → text embeddings with clipSkip, written as float32 safetensors.
import { parseArgs } from "node:util";
import { writeSafetensors } from "../checkpoint/safetensors.js";
import { loadModel } from "../checkpoint/load.js";
import { closeModel } from "../checkpoint/model.js";
import { ClipSkipError, encodePrompts, type EncodeRequest } from "../conditioning/index.js";
import type { Tensor } from "../tensor/tensor.js";

const USAGE = `usage: vellum encode --model PATH --prompt P [--negative-prompt N] [--clip-skip C] [--literal] --out F.safetensors

Encodes a prompt with the model's text encoder(s) and writes prompt_embeds and negative_prompt_embeds
([1, 77·chunks, D]) and, for SDXL, pooled_prompt_embeds and negative_pooled_prompt_embeds ([1, P]).

options:
  --model PATH           a diffusers folder (text_encoder/, text_encoder_2/, tokenizer/, tokenizer_2/) or a
                         single-file .safetensors checkpoint (its yaml / config.json sidecars are read)
  --prompt P             the prompt (A1111 weighting syntax and BREAK unless --literal)
  --negative-prompt N    the negative prompt; omitted on SDXL → all-zero negative embeddings
  --clip-skip C          layers skipped beyond the model's default (0 = stock; SD1.5 "Clip skip: 2" = 1)
  --literal              plain text in one 77-token chunk, truncated like diffusers' encode_prompt
  --threads T            intra-op threads (default: all cores)
  --out F                output .safetensors file
  -h, --help             this text`;

interface EncodeArgs {
  model: string;
  out: string;
  threads?: number;
  request: EncodeRequest;
}

function parse(args: string[]): EncodeArgs | "help" {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      model: { type: "string" },
      prompt: { type: "string" },
      "negative-prompt": { type: "string" },
      "clip-skip": { type: "string", default: "0" },
      literal: { type: "boolean", default: false },
      threads: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help";
  if (values.model === undefined) throw new Error("missing --model");
  if (values.prompt === undefined) throw new Error("missing --prompt");
  if (values.out === undefined) throw new Error("missing --out");
  const clipSkip = Number(values["clip-skip"]);
  if (!Number.isInteger(clipSkip)) throw new Error(`--clip-skip must be an integer, got ${values["clip-skip"]}`);
  const request: EncodeRequest = {
    prompt: values.prompt,
    clipSkip,
    literal: values.literal,
    ...(values["negative-prompt"] !== undefined && { negativePrompt: values["negative-prompt"] }),
  };
  return {
    model: values.model,
    out: values.out,
    request,
    ...(values.threads !== undefined && { threads: Number(values.threads) }),
  };
}

export async function encode(args: string[]): Promise<number> {
  let options: ReturnType<typeof parse>;
  try {
    options = parse(args);
  } catch (err) {
    console.error(`vellum encode: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 2;
  }
  if (options === "help") {
    console.log(USAGE);
    return 0;
  }
  let model;
  try {
    model = loadModel(options.model).model;
  } catch (err) {
    console.error(`vellum encode: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  try {
    const r = await encodePrompts(model, options.request, options.threads === undefined ? {} : { threads: options.threads });
    const tensors: [string, Tensor][] = [
      ["prompt_embeds", r.promptEmbeds],
      ["negative_prompt_embeds", r.negativePromptEmbeds],
    ];
    if (r.pooledPromptEmbeds !== undefined) tensors.push(["pooled_prompt_embeds", r.pooledPromptEmbeds]);
    if (r.negativePooledPromptEmbeds !== undefined) tensors.push(["negative_pooled_prompt_embeds", r.negativePooledPromptEmbeds]);
    writeSafetensors(options.out, tensors, { family: model.family, clip_skip: String(r.clipSkip) });
    console.log(`${model.family}, clipSkip ${r.clipSkip}, ${r.chunks} chunk(s)`);
    for (const l of r.layers) {
      console.log(`  ${l.encoder}: hidden_states[${l.hiddenStateIndex}] of ${l.numLayers} blocks${l.finalLayerNorm ? " + final_layer_norm" : " (no final_layer_norm)"}`);
    }
    for (const [name, t] of tensors) console.log(`  ${name} [${t.shape.join(", ")}]`);
    console.log(`wrote ${options.out}`);
    return 0;
  } catch (err) {
    if (err instanceof ClipSkipError) {
      console.error(`vellum encode: ${err.message}`);
      return 2;
    }
    throw err;
  } finally {
    closeModel(model);
  }
}
