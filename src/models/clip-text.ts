// CLIP text transformer (transformers `CLIPTextModel` / `CLIPTextModelWithProjection`) as an ONNX graph.
// Pre-LN blocks with causal self-attention; q is scaled by head_dim^-0.5 after its bias; no padding mask.
//
// clipSkip (our unit c ≥ 0, docs/conventions.md) is NOT applied here: the graph returns every hidden state
// (index 0 = embeddings, index i = output of block i, before final_layer_norm) and the same stack with the
// final LayerNorm applied, so conditioning/ picks `hidden_states[L − c]` + LN (SD1/SD2) or `[L − 1 − c]`
// without LN (SDXL) for any number of c values from one run.
import type { JsonConfig } from "../checkpoint/model.js";
import type { WeightSource } from "../checkpoint/weights.js";
import { GraphBuilder, ONNX_FLOAT, type BuiltGraph, type Value } from "../graph/index.js";
import { float32 } from "../tensor/tensor.js";

export interface ClipTextConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  maxPositionEmbeddings: number;
  hiddenAct: "quick_gelu" | "gelu";
  layerNormEps: number;
  /** 2 in legacy configs (SDXL text_encoder_2): pooling then uses argmax of the ids, as transformers does. */
  eosTokenId: number;
  /** Present for CLIPTextModelWithProjection. */
  projectionDim?: number;
}

function num(json: JsonConfig, key: string, fallback?: number): number {
  const v = json[key] ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`CLIP text config: ${key} must be a number, got ${JSON.stringify(json[key])}`);
  return v;
}

/** Parses a transformers `config.json` of a CLIP text model (defaults as transformers' CLIPTextConfig). */
export function parseClipTextConfig(json: JsonConfig): ClipTextConfig {
  const act = json["hidden_act"] ?? "quick_gelu";
  if (act !== "quick_gelu" && act !== "gelu") throw new Error(`CLIP text config: hidden_act ${JSON.stringify(act)} is not supported (quick_gelu | gelu)`);
  const projection = json["projection_dim"];
  return {
    vocabSize: num(json, "vocab_size", 49408),
    hiddenSize: num(json, "hidden_size", 512),
    intermediateSize: num(json, "intermediate_size", 2048),
    numHiddenLayers: num(json, "num_hidden_layers", 12),
    numAttentionHeads: num(json, "num_attention_heads", 8),
    maxPositionEmbeddings: num(json, "max_position_embeddings", 77),
    hiddenAct: act,
    layerNormEps: num(json, "layer_norm_eps", 1e-5),
    eosTokenId: num(json, "eos_token_id", 49407),
    ...(typeof projection === "number" && { projectionDim: projection }),
  };
}

/** transformers' additive causal mask value (torch.finfo(float32).min). */
const MASKED = -3.4028234663852886e38;

export const CLIP_OUTPUTS = {
  hiddenStates: "hidden_states",
  normedHiddenStates: "final_layer_norm_hidden_states",
  lastHiddenState: "last_hidden_state",
  poolerOutput: "pooler_output",
  textEmbeds: "text_embeds",
} as const;

/**
 * Graph inputs: `input_ids` int64 [B, 77]. Outputs: `hidden_states` [B, L+1, 77, H], `final_layer_norm_hidden_states`
 * [B, L+1, 77, H] (final LN of each), `last_hidden_state` [B, 77, H], `pooler_output` [B, H], and `text_embeds`
 * [B, P] when the weights hold `text_projection.weight`.
 */
export function buildClipTextGraph(config: ClipTextConfig, weights: WeightSource): BuiltGraph {
  const g = new GraphBuilder("clip_text");
  const w = (key: string): Value => g.weight(weights.get(key));
  const H = config.hiddenSize;
  const T = config.maxPositionEmbeddings;
  const heads = config.numAttentionHeads;
  const headDim = H / heads;
  const eps = config.layerNormEps;
  const p = "text_model";

  const ids = g.input("input_ids", "int64", ["batch", T]); // [B, 77]
  // The rows are gathered from the table as stored, then widened: a 16-bit table (49408 × H) never gets a float32 copy.
  const table = g.storedWeight(weights.get(`${p}.embeddings.token_embedding.weight`));
  let tokens = g.gather(table.value, ids, 0, `${p}.embeddings.token_embedding`); // [B, 77, H]
  if (table.dtype !== "float32") tokens = g.op("Cast", [tokens], { to: ONNX_FLOAT }, { name: `${p}.embeddings.token_embedding/cast` });
  const positions = g.slice(w(`${p}.embeddings.position_embedding.weight`), [0], [T], [0], undefined, `${p}.embeddings.position_embedding`); // [77, H]
  let x = g.add(tokens, positions, { name: `${p}.embeddings` }); // [B, 77, H]

  const causal = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) causal[i * T + j] = MASKED;
  const mask = g.constant(float32([T, T], causal), "causal_mask"); // [77, 77]

  const hidden: Value[] = [x];
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const l = `${p}.encoder.layers.${i}`;
    const lin = (h: Value, name: string) => g.linear(h, w(`${l}.${name}.weight`), w(`${l}.${name}.bias`), `${l}.${name}`);
    let h = g.layerNorm(x, w(`${l}.layer_norm1.weight`), w(`${l}.layer_norm1.bias`), eps, `${l}.layer_norm1`); // [B, 77, H]
    const q = lin(h, "self_attn.q_proj"); // [B, 77, H]
    const k = lin(h, "self_attn.k_proj"); // [B, 77, H]
    const v = lin(h, "self_attn.v_proj"); // [B, 77, H]
    h = g.attention(q, k, v, { heads, scale: headDim ** -0.5, mask, name: `${l}.self_attn` }); // [B, 77, H]
    x = g.add(x, lin(h, "self_attn.out_proj"), { name: `${l}.residual1` }); // [B, 77, H]
    h = g.layerNorm(x, w(`${l}.layer_norm2.weight`), w(`${l}.layer_norm2.bias`), eps, `${l}.layer_norm2`); // [B, 77, H]
    h = lin(h, "mlp.fc1"); // [B, 77, I]
    h = config.hiddenAct === "gelu" ? g.gelu(h, `${l}.mlp.act`) : g.quickGelu(h, `${l}.mlp.act`);
    x = g.add(x, lin(h, "mlp.fc2"), { name: `${l}.residual2` }); // [B, 77, H]
    hidden.push(x);
  }

  const lnW = w(`${p}.final_layer_norm.weight`);
  const lnB = w(`${p}.final_layer_norm.bias`);
  const stacked = g.concat(hidden.map((h, i) => g.unsqueeze(h, [1], `hidden_states.${i}`)), 1, "hidden_states_stack"); // [B, L+1, 77, H]
  g.output(stacked, CLIP_OUTPUTS.hiddenStates);
  g.output(g.layerNorm(stacked, lnW, lnB, eps, `${p}.final_layer_norm.all`), CLIP_OUTPUTS.normedHiddenStates); // [B, L+1, 77, H]
  const last = g.layerNorm(x, lnW, lnB, eps, `${p}.final_layer_norm`); // [B, 77, H]
  g.output(last, CLIP_OUTPUTS.lastHiddenState);

  // Pooling position: argmax of the ids for legacy configs (eos_token_id == 2), else the first eos_token_id.
  const key = config.eosTokenId === 2 ? ids : g.equal(ids, g.constant(int64Scalar(config.eosTokenId)), "eos_match"); // [B, 77]
  const pos = g.argMax(g.cast(key, "int32", "eos_cast"), 1, false, "eos_position"); // [B]
  const index = g.expand(g.unsqueeze(pos, [1, 2]), g.concat([g.shape(pos), g.int64s([1, H])], 0), "eos_index"); // [B, 1, H]
  const pooled = g.squeeze(g.op("GatherElements", [last, index], { axis: 1 }, { name: "pooler" }), [1]); // [B, H]
  g.output(pooled, CLIP_OUTPUTS.poolerOutput);
  if (weights.has("text_projection.weight")) {
    g.output(g.linear(pooled, w("text_projection.weight"), undefined, "text_projection"), CLIP_OUTPUTS.textEmbeds); // [B, P]
  }
  return g.build();
}

function int64Scalar(v: number) {
  return { dtype: "int64" as const, shape: [] as number[], data: BigInt64Array.from([BigInt(v)]) };
}
