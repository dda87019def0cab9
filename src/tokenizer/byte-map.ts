// GPT-2 / CLIP byte-level alphabet: every byte gets a printable character so BPE never sees whitespace or controls.
// Printable bytes `!`..`~`, `¡`..`¬`, `®`..`ÿ` stand for themselves; the other 68 become chr(256 + n) in byte order.

function buildByteOrder(): number[] {
  const bytes: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bytes.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bytes.push(b);
  for (let b = 0xae; b <= 0xff; b++) bytes.push(b);
  return bytes;
}

/** Bytes in vocabulary order: the 188 printable ones first, then the remaining 68 ascending (ids 0..255). */
export const BYTE_ORDER: readonly number[] = (() => {
  const printable = buildByteOrder();
  const seen = new Set(printable);
  const rest: number[] = [];
  for (let b = 0; b < 256; b++) if (!seen.has(b)) rest.push(b);
  return [...printable, ...rest];
})();

/** byte → its character in the byte-level alphabet. */
export const BYTE_TO_UNICODE: readonly string[] = (() => {
  const printable = new Set(buildByteOrder());
  const table: string[] = new Array<string>(256);
  let n = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(printable.has(b) ? b : 256 + n++);
  return table;
})();

const encoder = new TextEncoder();

/** A piece of text as UTF-8 bytes spelled in the byte-level alphabet. */
export function toByteLevel(text: string): string {
  let out = "";
  for (const b of encoder.encode(text)) out += BYTE_TO_UNICODE[b]!;
  return out;
}
