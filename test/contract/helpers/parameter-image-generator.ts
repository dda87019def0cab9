// TEST DOUBLE, not the pipeline: renders a deterministic image with sharp from the request parameters (colour from
// seed + clipSkip, size from width/height), so contract tests exercise the wire protocol without ONNX Runtime.
// Tests that use it must switch to the real generator once src/pipeline exports one.
import sharp from "sharp";
import type { Generator, GeneratedImage } from "../../../src/jobs/types.js";

export const parameterImageGenerator: Generator = async function* (req, ctx) {
  for (let i = 0; i < req.numberResults; i++) {
    const clipSkip = Array.isArray(req.clipSkip) ? req.clipSkip[i]! : (req.clipSkip as number);
    const seed = Array.isArray(req.clipSkip) ? req.seed : req.seed + BigInt(i);
    for (let step = 1; step <= req.steps; step++) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      await new Promise((r) => setImmediate(r));
      ctx.onProgress({ step, total: req.steps, imageIndex: i });
    }
    const v = Number(seed % 251n);
    const base = sharp({ create: { width: req.widthPx, height: req.heightPx, channels: 3, background: { r: v, g: (v * 7 + clipSkip * 40) % 256, b: req.prompt.length % 256 } } });
    const out = req.output.format === "png" ? base.png() : req.output.format === "webp" ? base.webp({ quality: req.output.quality }) : base.jpeg({ quality: req.output.quality });
    const mime: GeneratedImage["mime"] = req.output.format === "png" ? "image/png" : req.output.format === "webp" ? "image/webp" : "image/jpeg";
    yield { index: i, seed, bytes: new Uint8Array(await out.toBuffer()), mime, clipSkipApplied: { clipSkip, layers: { clipL: 5 - clipSkip } } };
  }
};
