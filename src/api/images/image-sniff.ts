// Image format and size from the first bytes (PNG IHDR, JPEG SOFn, WEBP VP8/VP8L/VP8X) — no decoder needed.

export interface ImageInfo {
  readonly mime: "image/png" | "image/jpeg" | "image/webp";
  readonly ext: "png" | "jpg" | "webp";
  readonly widthPx: number;
  readonly heightPx: number;
}

function png(b: Uint8Array, v: DataView): ImageInfo | undefined {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (b.length < 24 || !sig.every((x, i) => b[i] === x)) return undefined;
  return { mime: "image/png", ext: "png", widthPx: v.getUint32(16), heightPx: v.getUint32(20) };
}

function jpeg(b: Uint8Array, v: DataView): ImageInfo | undefined {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1]!;
    if (marker === 0xff) { i++; continue; }
    const len = v.getUint16(i + 2);
    const isSOF = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSOF) return { mime: "image/jpeg", ext: "jpg", widthPx: v.getUint16(i + 7), heightPx: v.getUint16(i + 5) };
    i += 2 + len;
  }
  return undefined;
}

function webp(b: Uint8Array, v: DataView): ImageInfo | undefined {
  const ascii = (o: number, n: number) => String.fromCharCode(...b.subarray(o, o + n));
  if (b.length < 30 || ascii(0, 4) !== "RIFF" || ascii(8, 4) !== "WEBP") return undefined;
  const chunk = ascii(12, 4);
  const info = (w: number, h: number): ImageInfo => ({ mime: "image/webp", ext: "webp", widthPx: w, heightPx: h });
  if (chunk === "VP8 ") return info(v.getUint16(26, true) & 0x3fff, v.getUint16(28, true) & 0x3fff);
  if (chunk === "VP8L") {
    const bits = v.getUint32(21, true);
    return info((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1);
  }
  if (chunk === "VP8X") {
    const w = 1 + (b[24]! | (b[25]! << 8) | (b[26]! << 16));
    const h = 1 + (b[27]! | (b[28]! << 8) | (b[29]! << 16));
    return info(w, h);
  }
  return undefined;
}

/** Format and dimensions of a PNG/JPEG/WEBP, or undefined for anything else (or a truncated header). */
export function sniffImage(bytes: Uint8Array): ImageInfo | undefined {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return png(bytes, v) ?? jpeg(bytes, v) ?? webp(bytes, v);
  } catch {
    return undefined;
  }
}
