import { describe, expect, it } from "vitest";
import { cleanText, collapseWhitespace, fixText, unescapeHtml } from "./clean-text.js";

// ftfy behaviours beyond the golden prompts; expected strings are the documented ftfy results
const fixes: Array<[string, string, string]> = [
  ["named entity", "salt &amp; pepper", "salt & pepper"],
  ["double-escaped entity", "&amp;lt;", "<"],
  ["numeric entities", "&#233;&#xE9;", "éé"],
  ["C1 numeric entity is Windows-1252", "&#146;", "'"],
  ["unknown entity stays", "&bogus;", "&bogus;"],
  ["no unescape when the text has a literal <", "<b> &amp;", "<b> &amp;"],
  ["Latin-1 mojibake", "cafÃ©", "café"],
  ["Windows-1252 mojibake of a curly quote", "donâ€™t", "don't"],
  ["Cyrillic mojibake", "Ð¿Ñ€Ð¸Ð²ÐµÑ‚", "привет"],
  ["emoji mojibake", "ðŸ˜Ž", "😎"],
  ["legitimate Latin-1 text is left alone", "Straße“ CAFÉ… Ærø", 'Straße" CAFÉ… Ærø'],
  ["C1 control read as Windows-1252", "it\x92s", "it's"],
  ["terminal colour codes", "\x1b[31mred\x1b[0m", "red"],
  ["ligatures", "ﬁne ﬂow", "fine flow"],
  ["full-width forms", "ＡＢＣ１２３！", "ABC123!"],
  ["ideographic space", "a\u3000b", "a b"],
  ["curly quotes", "“a” ‘b’", "\"a\" 'b'"],
  ["line breaks", "a\r\nb\rc\u2028d", "a\nb\nc\nd"],
  ["control characters and BOM", "\ufeffa\x00b\x07c\x7f", "abc"],
  ["zero-width space is kept (ftfy keeps it)", "a\u200bb", "a\u200bb"],
  ["NFC", "cafe\u0301", "café"],
];

describe("fixText (ftfy subset)", () => {
  it.each(fixes)("%s", (_, input, expected) => {
    expect(fixText(input)).toBe(expected);
  });
});

describe("cleanText", () => {
  it("collapses Python whitespace and lowercases", () => {
    expect(cleanText("  A\t\nPhoto\u00a0OF\u2003a   CAT  ")).toBe("a photo of a cat");
    expect(collapseWhitespace(" \u2003x\u202fy ")).toBe("x y");
  });

  it("leaves entity-looking text without ; alone", () => {
    expect(unescapeHtml("&amp")).toBe("&amp");
  });
});
