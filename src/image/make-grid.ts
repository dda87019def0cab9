// A labelled grid of images (e.g. one cell per clipSkip value): cells left to right, top to bottom, each image
// centred in a cell of the largest image's size, with its label drawn under it (an SVG text overlay via sharp).
import sharp, { type OverlayOptions } from "sharp";
import { assertRgb, type RgbImage } from "./types.js";

export interface GridCell extends RgbImage {
  readonly label: string;
}

export interface GridConfig {
  /** Height of the label strip under each image. */
  labelHeightPx?: number;
  gapPx?: number;
  fontSizePx?: number;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export async function makeGrid(images: readonly GridCell[], columns: number, config: GridConfig = {}): Promise<RgbImage> {
  if (images.length === 0) throw new RangeError("makeGrid: no images");
  if (!Number.isInteger(columns) || columns < 1) throw new RangeError(`makeGrid: columns must be ≥ 1, got ${columns}`);
  images.forEach((im, i) => assertRgb(im, `makeGrid cell ${i}`));
  const labelHeight = config.labelHeightPx ?? 24;
  const gap = config.gapPx ?? 4;
  const cols = Math.min(columns, images.length);
  const rows = Math.ceil(images.length / cols);
  const cellW = Math.max(...images.map((im) => im.width));
  const cellH = Math.max(...images.map((im) => im.height)) + labelHeight;
  // DejaVu Sans averages ≈ 0.62 em per character: shrink the default size until the longest label fits a cell.
  const longest = Math.max(1, ...images.map((im) => im.label.length));
  const fontSize = config.fontSizePx ?? Math.max(6, Math.min(Math.round(labelHeight * 0.6), Math.floor((cellW - 4) / (0.62 * longest))));
  const width = cols * cellW + (cols + 1) * gap;
  const height = rows * cellH + (rows + 1) * gap;

  const overlays: OverlayOptions[] = [];
  const labels: string[] = [];
  images.forEach((im, i) => {
    const x = gap + (i % cols) * (cellW + gap);
    const y = gap + Math.floor(i / cols) * (cellH + gap);
    overlays.push({
      input: Buffer.from(im.rgb.buffer, im.rgb.byteOffset, im.rgb.length),
      raw: { width: im.width, height: im.height, channels: 3 },
      left: x + Math.floor((cellW - im.width) / 2),
      top: y + Math.floor((cellH - labelHeight - im.height) / 2),
    });
    const baseline = y + cellH - labelHeight + Math.round((labelHeight + fontSize * 0.7) / 2);
    labels.push(
      `<text x="${x + cellW / 2}" y="${baseline}" font-family="DejaVu Sans, sans-serif" font-size="${fontSize}" ` +
        `text-anchor="middle" fill="#000">${escapeXml(im.label)}</text>`,
    );
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${labels.join("")}</svg>`;
  overlays.push({ input: Buffer.from(svg), left: 0, top: 0 });

  const { data, info } = await sharp({ create: { width, height, channels: 3, background: { r: 255, g: 255, b: 255 } } })
    .composite(overlays)
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { rgb: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}
