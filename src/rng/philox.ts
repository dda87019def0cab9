// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3"), the counter-based generator behind
// torch's CUDA randn. One call maps a 128-bit counter and a 64-bit key to four 32-bit words.

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const INV_TWO_POW_32 = 2 ** -32;

/**
 * High 32 bits of the 64-bit product of two uint32. The double product is off by at most 2^11 from the exact one,
 * and subtracting the exact low word leaves hi·2^32 ± 2^12, so rounding the quotient recovers hi exactly.
 */
export function mulHi32(a: number, b: number): number {
  const lo = Math.imul(a, b) >>> 0;
  return Math.round((a * b - lo) * INV_TWO_POW_32) >>> 0;
}

/**
 * Runs 10 rounds on counter (c0, c1, c2, c3) with key (k0, k1); writes the four output words into `out`.
 */
export function philox4x32(out: Uint32Array, c0: number, c1: number, c2: number, c3: number, k0: number, k1: number): void {
  for (let round = 0; round < 10; round++) {
    const lo0 = Math.imul(c0, M0) >>> 0;
    const hi0 = Math.round((c0 * M0 - lo0) * INV_TWO_POW_32);
    const lo1 = Math.imul(c2, M1) >>> 0;
    const hi1 = Math.round((c2 * M1 - lo1) * INV_TWO_POW_32);
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}
