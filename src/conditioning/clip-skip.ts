// Which hidden state each text encoder contributes for a clipSkip value (our unit c ≥ 0, docs/conventions.md):
// SD1/SD2 `hidden_states[L − c]` then final_layer_norm; SDXL (and its refiner) `hidden_states[L − 1 − c]`, no LN.
// hidden_states[0] is the embedding output, so the deepest skip allowed leaves index 1 (block 1's output).
import type { Family } from "../checkpoint/model.js";

export type EncoderName = "text_encoder" | "text_encoder_2";

export interface LayerChoice {
  encoder: EncoderName;
  /** Blocks in the encoder (L). */
  numLayers: number;
  /** Index into the (L+1)-long hidden_states. */
  hiddenStateIndex: number;
  finalLayerNorm: boolean;
}

/** A clipSkip the model cannot honour; never clamped. Code is the API's wire code. */
export class ClipSkipError extends Error {
  override readonly name = "ClipSkipError";
  readonly code = "invalidClipSkip";
  constructor(readonly value: number, readonly min: number, readonly max: number, family: Family) {
    super(`Invalid value for clipSkip parameter: it must be an integer between ${min} and ${max} for this ${family} model, got ${value}.`);
  }
}

/** SDXL-style families use the penultimate layer by default and no final LN. */
export function usesPenultimate(family: Family): boolean {
  return family === "sdxl" || family === "sdxl-refiner";
}

/** The largest clipSkip every encoder can honour (hidden-state index ≥ 1 on each). */
export function maxClipSkip(family: Family, encoders: readonly { numLayers: number }[]): number {
  const offset = usesPenultimate(family) ? 1 : 0;
  return Math.min(...encoders.map((e) => e.numLayers - 1 - offset));
}

/** The layer each encoder uses for `clipSkip`, or a ClipSkipError naming the allowed range. */
export function chooseLayers(family: Family, encoders: readonly { encoder: EncoderName; numLayers: number }[], clipSkip: number): LayerChoice[] {
  const max = maxClipSkip(family, encoders);
  if (!Number.isInteger(clipSkip) || clipSkip < 0 || clipSkip > max) throw new ClipSkipError(clipSkip, 0, max, family);
  const penultimate = usesPenultimate(family);
  return encoders.map((e) => ({
    encoder: e.encoder,
    numLayers: e.numLayers,
    hiddenStateIndex: e.numLayers - (penultimate ? 1 : 0) - clipSkip,
    finalLayerNorm: !penultimate,
  }));
}
