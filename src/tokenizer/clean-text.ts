// Text clean-up before CLIP BPE: the subset of ftfy 6.3 `fix_text` (defaults) that changes real prompts, then
// whitespace collapse and lowercasing, as transformers' CLIPTokenizer does (`whitespace_clean(fix_text(t)).lower()`).
//
// ftfy steps reproduced, in ftfy's order, repeated until the text stops changing (ftfy loops the same way):
// HTML entities (only when the text has no literal "<", ftfy's "auto"), terminal escapes, mojibake, C1 controls as
// Windows-1252, Latin ligatures, full-width forms, curly quotes, line breaks, lone surrogates, control characters, NFC.
// Not reproduced: ftfy's badness-scored encoding detection beyond UTF-8-as-Windows-1252/Latin-1 (see mojibake.ts) and
// HTML5-only entity names. openai/CLIP additionally runs html.unescape twice (also when "<" is present and for
// entities without ";"); where the two references differ we follow transformers, which is what diffusers runs.
import { cp1252Char } from "./cp1252.js";
import { HTML_ENTITIES } from "./html-entities.js";
import { fixMojibake } from "./mojibake.js";

const ENTITY = /&#?[0-9A-Za-z]{1,24};/g;
const TERMINAL_ESCAPE = /\x1b\[((?:\d|;)*)([a-zA-Z])/g;
const C1_CONTROL = /[\x80-\x9f]/g;
const LIGATURE = /[\u0132\u0133\u01c4-\u01cc\u01f1-\u01f3\ufb00-\ufb06]/g;
const WIDE = /[\u3000\uff01-\uffef]/g;
const SINGLE_QUOTE = /[\u02bc\u2018-\u201b]/g;
const DOUBLE_QUOTE = /[\u201c-\u201f]/g;
const LINE_BREAK = /\r\n|[\r\u2028\u2029\u0085]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const CONTROL = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;
/** Python's str.isspace set (what `re.sub(r"\s+", " ", …)` collapses), which differs from JS `\s`. */
const PY_WHITESPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/g;

function numericEntity(body: string): string | undefined {
  const cp = body[0] === "x" || body[0] === "X" ? parseInt(body.slice(1), 16) : Number(body);
  if (!Number.isInteger(cp) || !/^(x[0-9a-f]+|[0-9]+)$/i.test(body)) return undefined;
  if (cp >= 0x80 && cp <= 0x9f) return cp1252Char(cp);
  if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return "\ufffd";
  if ((cp >= 0x1 && cp <= 0x8) || cp === 0xb || (cp >= 0xe && cp <= 0x1f) || cp === 0x7f) return "";
  if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe) return "";
  return String.fromCodePoint(cp);
}

export function unescapeHtml(text: string): string {
  return text.replace(ENTITY, (entity) => {
    const body = entity.slice(1, -1);
    const decoded = body[0] === "#" ? numericEntity(body.slice(1)) : HTML_ENTITIES.get(body);
    return decoded ?? entity;
  });
}

function fixOnce(text: string, unescape: boolean): string {
  let t = unescape ? unescapeHtml(text) : text;
  t = t.replace(TERMINAL_ESCAPE, "");
  t = fixMojibake(t);
  t = t.replace(C1_CONTROL, (c) => cp1252Char(c.charCodeAt(0)));
  t = t.replace(LIGATURE, (c) => c.normalize("NFKC"));
  t = t.replace(WIDE, (c) => (c === "\u3000" ? " " : c.normalize("NFKC")));
  t = t.replace(SINGLE_QUOTE, "'").replace(DOUBLE_QUOTE, '"');
  t = t.replace(LINE_BREAK, "\n");
  t = t.replace(LONE_SURROGATE, "\ufffd");
  t = t.replace(CONTROL, "");
  return t.normalize("NFC");
}

/** The ftfy-equivalent repair of a text (no whitespace collapse, no lowercasing). */
export function fixText(text: string): string {
  const unescape = !text.includes("<");
  let t = text;
  for (let i = 0; i < 8; i++) {
    const next = fixOnce(t, unescape);
    if (next === t) break;
    t = next;
  }
  return t;
}

/** Collapses whitespace runs to one space and trims, with Python's notion of whitespace. */
export function collapseWhitespace(text: string): string {
  return text.replace(PY_WHITESPACE, " ").replace(/^ | $/g, "");
}

/** Everything CLIP does to a text before splitting it into words. */
export function cleanText(text: string): string {
  return collapseWhitespace(fixText(text)).toLowerCase();
}
