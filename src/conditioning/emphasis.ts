// A1111 "Original" emphasis: multiply each token's row of the selected layer's output by its weight, then
// rescale the whole chunk so its mean equals the mean before weighting (modules/sd_emphasis.py semantics).

/** Weights `z` ([77, D] rows of one chunk) in place. All-ones weights leave it untouched. */
export function applyEmphasis(z: Float32Array, weights: readonly number[], dim: number): void {
  if (weights.every((w) => w === 1)) return;
  if (z.length !== weights.length * dim) throw new Error(`emphasis: ${z.length} values for ${weights.length} tokens × ${dim}`);
  let before = 0;
  for (let i = 0; i < z.length; i++) before += z[i]!;
  let after = 0;
  for (let t = 0; t < weights.length; t++) {
    const w = weights[t]!;
    for (let d = t * dim; d < (t + 1) * dim; d++) {
      z[d] = Math.fround(z[d]! * w);
      after += z[d]!;
    }
  }
  const ratio = before / after;
  for (let i = 0; i < z.length; i++) z[i] = z[i]! * ratio;
}
