// Windows-1252 bytes 0x80–0x9F (the only range where it differs from Latin-1). Undefined bytes (0x81, 0x8D, 0x8F,
// 0x90, 0x9D) keep their Latin-1 C1 control character, as ftfy's "sloppy-windows-1252" codec does.
const HIGH = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f,
  0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
];

/** The character a byte stands for in sloppy Windows-1252. */
export function cp1252Char(byte: number): string {
  return String.fromCodePoint(byte >= 0x80 && byte < 0xa0 ? HIGH[byte - 0x80]! : byte);
}

const BYTE_OF = new Map<number, number>();
for (let b = 0; b < 256; b++) BYTE_OF.set(b, b); // Latin-1 reading (C1 controls included)
HIGH.forEach((cp, i) => BYTE_OF.set(cp, 0x80 + i)); // Windows-1252 reading

/** The byte a character came from when UTF-8 was misread as Windows-1252 or Latin-1, or undefined. */
export function sloppyByte(codePoint: number): number | undefined {
  return BYTE_OF.get(codePoint);
}
