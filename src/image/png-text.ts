// PNG text chunks written and read directly in the byte stream (no codec involved).
// Writing: tEXt (Latin-1) when the text is Latin-1, otherwise an uncompressed iTXt (UTF-8), as PIL's PngInfo.add_text.
// Reading: tEXt, zTXt and iTXt (compressed or not); every chunk's CRC is checked.
import { inflateSync } from "node:zlib";

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ISO 3309 / ITU-T V.42, the PNG and zlib polynomial). */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function isPng(png: Uint8Array): boolean {
  return png.length >= 8 && SIGNATURE.every((b, i) => png[i] === b);
}

function isLatin1(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return false;
  return true;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(Buffer.from(type, "latin1"), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** A tEXt chunk (or iTXt for non-Latin-1 text) for `keyword` = `text`. */
export function textChunk(keyword: string, text: string): Uint8Array {
  if (!/^[\x20-\x7e\xa1-\xff]{1,79}$/.test(keyword) || keyword.startsWith(" ") || keyword.endsWith(" ")) {
    throw new RangeError(`PNG text keyword must be 1–79 printable Latin-1 characters: ${JSON.stringify(keyword)}`);
  }
  const key = Buffer.from(keyword, "latin1");
  if (isLatin1(text)) return chunk("tEXt", Buffer.concat([key, Buffer.from([0]), Buffer.from(text, "latin1")]));
  // keyword NUL, compression flag 0, method 0, empty language tag NUL, empty translated keyword NUL, UTF-8 text
  return chunk("iTXt", Buffer.concat([key, Buffer.from([0, 0, 0, 0, 0]), Buffer.from(text, "utf8")]));
}

/** Returns a copy of `png` with one text chunk per entry inserted right after IHDR. */
export function insertPngText(png: Uint8Array, entries: Record<string, string>): Uint8Array {
  if (!isPng(png)) throw new RangeError("insertPngText: not a PNG stream");
  const ihdrLength = new DataView(png.buffer, png.byteOffset, png.byteLength).getUint32(8);
  const afterIhdr = 8 + 12 + ihdrLength;
  const chunks = Object.entries(entries).map(([k, v]) => textChunk(k, v));
  return Buffer.concat([png.subarray(0, afterIhdr), ...chunks, png.subarray(afterIhdr)]);
}

/** All text chunks of a PNG, keyword → text (a later chunk with the same keyword wins). */
export function readPngTextChunks(png: Uint8Array): Record<string, string> {
  if (!isPng(png)) throw new RangeError("readPngTextChunks: not a PNG stream");
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const out: Record<string, string> = {};
  let at = 8;
  while (at + 12 <= png.length) {
    const length = view.getUint32(at);
    const type = Buffer.from(png.subarray(at + 4, at + 8)).toString("latin1");
    const end = at + 12 + length;
    if (end > png.length) throw new RangeError(`readPngTextChunks: chunk ${type} runs past the end of the file`);
    const data = png.subarray(at + 8, at + 8 + length);
    if (crc32(png.subarray(at + 4, at + 8 + length)) !== view.getUint32(at + 8 + length)) {
      throw new RangeError(`readPngTextChunks: bad CRC in chunk ${type} at byte ${at}`);
    }
    const entry = parseTextChunk(type, data);
    if (entry !== undefined) out[entry[0]] = entry[1];
    if (type === "IEND") break;
    at = end;
  }
  return out;
}

function parseTextChunk(type: string, data: Uint8Array): [string, string] | undefined {
  if (type !== "tEXt" && type !== "zTXt" && type !== "iTXt") return undefined;
  const nul = data.indexOf(0);
  if (nul < 1) return undefined;
  const keyword = Buffer.from(data.subarray(0, nul)).toString("latin1");
  const rest = data.subarray(nul + 1);
  if (type === "tEXt") return [keyword, Buffer.from(rest).toString("latin1")];
  if (type === "zTXt") return [keyword, inflateSync(rest.subarray(1)).toString("latin1")];
  // iTXt: compression flag, method, language tag NUL, translated keyword NUL, text
  const compressed = rest[0] === 1;
  const langEnd = rest.indexOf(0, 2);
  const transEnd = langEnd < 0 ? -1 : rest.indexOf(0, langEnd + 1);
  if (transEnd < 0) return undefined;
  const text = rest.subarray(transEnd + 1);
  return [keyword, (compressed ? inflateSync(text) : Buffer.from(text)).toString("utf8")];
}
