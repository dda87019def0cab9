// Repairs UTF-8 that was decoded as Windows-1252 or Latin-1 ("cafÃ©" → "café", "donâ€™t" → "don’t"), the most
// common case of ftfy's fix_encoding. Each candidate is a lead character followed by the right number of
// continuation characters whose bytes form one valid UTF-8 sequence. Two-byte candidates are only accepted for the
// lead bytes of Latin-1, Latin Extended-A, Greek and Cyrillic (Â Ã Ä Å Î Ï Ð Ñ), which keeps legitimate text such as
// "É…" or "ß“" intact; ftfy decides with a statistical "badness" score that we do not reproduce.
import { sloppyByte } from "./cp1252.js";

const TWO_BYTE_LEADS = new Set([0xc2, 0xc3, 0xc4, 0xc5, 0xce, 0xcf, 0xd0, 0xd1]);
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function continuationCount(lead: number): number {
  if (TWO_BYTE_LEADS.has(lead)) return 1;
  if (lead >= 0xe0 && lead <= 0xef) return 2;
  if (lead >= 0xf0 && lead <= 0xf4) return 3;
  return 0;
}

function decode(bytes: number[]): string | undefined {
  try {
    return strictUtf8.decode(Uint8Array.from(bytes)); // rejects overlong forms, surrogates and > U+10FFFF
  } catch {
    return undefined;
  }
}

/** Replaces every misdecoded UTF-8 sequence by the character it encoded; other text is unchanged. */
export function fixMojibake(text: string): string {
  if (!/[\u00c2-\u00f4]/.test(text)) return text;
  const chars = Array.from(text);
  let out = "";
  for (let i = 0; i < chars.length; i++) {
    const lead = sloppyByte(chars[i]!.codePointAt(0)!);
    const n = lead === undefined ? 0 : continuationCount(lead);
    if (n > 0 && i + n < chars.length) {
      const bytes = [lead!];
      for (let k = 1; k <= n; k++) {
        const b = sloppyByte(chars[i + k]!.codePointAt(0)!);
        if (b === undefined || b < 0x80 || b > 0xbf) break;
        bytes.push(b);
      }
      const fixed = bytes.length === n + 1 ? decode(bytes) : undefined;
      if (fixed !== undefined) {
        out += fixed;
        i += n;
        continue;
      }
    }
    out += chars[i]!;
  }
  return out;
}
