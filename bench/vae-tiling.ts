// npx tsx bench/vae-tiling.ts --model FILE [--size 1024] [--tile 64] [--overlap 0.25] [--runs 1] [--threads T]
// VAE decode of pseudo-random latents, untiled and tiled (src/pipeline/vae-tiling.ts), each in a fresh child process so
// neither inherits the other's freed-but-resident heap. A first child only opens the decoder (writes the float32
// sidecar / optimised model to the cache), so the measured children open warm caches. Per mode: wall time of each
// decode, RSS once the session is open, and peak RSS (VmHWM) during the decodes (reset after opening) and overall.
import { spawnSync } from "node:child_process";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadModel } from "../src/checkpoint/load.js";
import { closeModel } from "../src/checkpoint/model.js";
import { VAE_DECODER_INPUT, VAE_DECODER_OUTPUT } from "../src/models/vae.js";
import { decodeTiled, tileStarts } from "../src/pipeline/vae-tiling.js";
import type { Float32Tensor } from "../src/tensor/tensor.js";
import { benchModel, openVAEDecoder, vaeFeeds } from "./stages.js";
import { gib, procStatusBytes, resetPeakRss } from "./stats.js";

const USAGE = "usage: npx tsx bench/vae-tiling.ts --model FILE [--size 1024] [--tile 64] [--overlap 0.25] [--runs 1] [--threads T]";

type Mode = "prepare" | "untiled" | "tiled";

interface ChildResult {
  mode: Mode;
  runsMs: number[];
  rssOpenBytes: number | undefined;
  peakOpenBytes: number | undefined;
  peakDecodeBytes: number | undefined;
  tiles: number;
  /** Mean |pixel| of the last decode (same data in both modes: a sanity figure, not a comparison). */
  meanAbs: number;
}

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    size: { type: "string", default: "1024" },
    tile: { type: "string", default: "64" },
    overlap: { type: "string", default: "0.25" },
    runs: { type: "string", default: "1" },
    threads: { type: "string" },
    child: { type: "string" },
    help: { type: "boolean", default: false },
  },
});

async function child(mode: Mode): Promise<ChildResult> {
  const { model } = loadModel(values.model!);
  try {
    const m = benchModel(model);
    const opts = values.threads !== undefined ? { threads: Number(values.threads) } : {};
    const decoder = await openVAEDecoder(m, opts);
    const f = 2 ** (m.vaeConfig.blockOutChannels.length - 1);
    const side = Number(values.size) / f;
    const tileSize = Number(values.tile), overlap = Number(values.overlap);
    const result: ChildResult = { mode, runsMs: [], rssOpenBytes: procStatusBytes("VmRSS"), peakOpenBytes: procStatusBytes("VmHWM"), peakDecodeBytes: undefined, tiles: 1, meanAbs: 0 };
    if (mode !== "prepare") {
      const latents = vaeFeeds(m, side, side)[VAE_DECODER_INPUT]!; // [1, C, side, side]
      if (mode === "tiled") result.tiles = tileStarts(side, Math.trunc(tileSize * (1 - overlap))).length ** 2;
      resetPeakRss();
      let image: Float32Tensor | undefined;
      for (let r = 0; r < Number(values.runs); r++) {
        const t0 = performance.now();
        image =
          mode === "tiled"
            ? await decodeTiled(decoder, latents, { tileSize, overlap, scaleFactor: f })
            : ((await decoder.run({ [VAE_DECODER_INPUT]: latents }))[VAE_DECODER_OUTPUT] as Float32Tensor);
        result.runsMs.push(performance.now() - t0);
      }
      result.peakDecodeBytes = procStatusBytes("VmHWM");
      result.meanAbs = image!.data.reduce((s, v) => s + Math.abs(v), 0) / image!.data.length;
    }
    await decoder.release();
    return result;
  } finally {
    closeModel(model);
  }
}

function runChild(mode: Mode): ChildResult {
  const args = [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2), "--child", mode];
  const out = spawnSync(process.execPath, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 20 });
  const line = out.stdout.split("\n").find((l) => l.startsWith("RESULT "));
  if (out.status !== 0 || line === undefined) throw new Error(`${mode} child failed (status ${out.status}, signal ${out.signal})`);
  return JSON.parse(line.slice("RESULT ".length)) as ChildResult;
}

if (values.help || values.model === undefined) {
  console.log(USAGE);
  process.exit(values.help ? 0 : 2);
}
if (values.child !== undefined) {
  console.log(`RESULT ${JSON.stringify(await child(values.child as Mode))}`);
} else {
  console.log(`vae decode ${values.size}×${values.size}, tile ${values.tile} latent cells, overlap ${values.overlap}, load avg ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  runChild("prepare");
  const results = [runChild("untiled"), runChild("tiled")];
  for (const r of results) {
    const s = r.runsMs.map((ms) => `${(ms / 1000).toFixed(2)} s`).join(", ");
    console.log(
      `${r.mode.padEnd(8)} tiles ${String(r.tiles).padStart(2)}  decode ${s.padEnd(10)}  RSS after open ${gib(r.rssOpenBytes)}  peak during decode ${gib(r.peakDecodeBytes)}  (mean |x| ${r.meanAbs.toFixed(4)})`,
    );
  }
  console.log(JSON.stringify({ size: Number(values.size), tile: Number(values.tile), overlap: Number(values.overlap), loadavg: loadavg(), results }));
}
