// JSON in and out with 64-bit seeds: large integer seeds are read as exact bigints and written as bare integers.

const BIGINT_TAG = `__vellum_bigint_${Math.random().toString(36).slice(2)}__`;

/**
 * JSON.parse that keeps `"seed": <integer beyond 2^53>` exact by turning it into a digit string first
 * (the validator accepts integer strings for seed). Anything else parses as usual.
 */
export function parseJson(text: string): unknown {
  const guarded = text.replace(/(?<!\\)("seed"\s*:\s*)(-?\d{16,})(?=\s*[,}\]])/g, '$1"$2"');
  return JSON.parse(guarded);
}

/** JSON.stringify that writes bigints as bare integers (Runware returns 64-bit seeds as JSON numbers). */
export function stringifyJson(value: unknown): string {
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? `${BIGINT_TAG}${v.toString()}` : v));
  return text.replace(new RegExp(`"${BIGINT_TAG}(-?\\d+)"`, "g"), "$1");
}
