// clipSkip advice for catalog entries, in our unit (diffusers': layers skipped beyond the model's default;
// docs/conventions.md, spec §1.9). Community numbers ("Clip skip: N", A1111 numbering) are converted per family.
import type { Family, JsonConfig } from "../checkpoint/model.js";

/** Civitai / A1111 "Clip skip: N" → our clipSkip. SD1: N−1; SD2: 0 (A1111 ignores it); SDXL/refiner: max(0, N−2). */
export function civitaiToClipSkip(n: number, family: Family): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`Clip skip must be an integer ≥ 1, got ${n}`);
  if (family === "sd1") return n - 1;
  if (family === "sd2") return 0;
  return Math.max(0, n - 2);
}

const layers = (c: JsonConfig | undefined): number | undefined => (typeof c?.["num_hidden_layers"] === "number" ? (c["num_hidden_layers"] as number) : undefined);

/**
 * Largest clipSkip the text encoders allow: SD1/SD2 L−1 (out(L−c) ≥ out(1); SD2 counts the 23-layer encoder),
 * SDXL min(L_clipL, L_bigG) − 2 (out(L−1−c) ≥ out(1)), refiner L_bigG − 2.
 */
export function maxClipSkip(family: Family, textEncoder: JsonConfig | undefined, textEncoder2: JsonConfig | undefined): number | undefined {
  const l1 = layers(textEncoder), l2 = layers(textEncoder2);
  if (family === "sd1" || family === "sd2") return l1 === undefined ? undefined : l1 - 1;
  if (family === "sdxl") return l1 === undefined || l2 === undefined ? undefined : Math.min(l1, l2) - 2;
  return l2 === undefined ? undefined : l2 - 2;
}
