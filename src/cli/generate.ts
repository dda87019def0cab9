// `vellum generate`: one image (or a clipSkip sweep) from a model on disk, written with its metadata.
import { randomInt } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { extname } from "node:path";
import { parseArgs } from "node:util";
import { readSafetensors, SafetensorsFile, writeSafetensors } from "../checkpoint/safetensors.js";
import { loadModel } from "../checkpoint/load.js";
import { closeModel, type PipelineModel } from "../checkpoint/model.js";
import { encodeImage, makeGrid, type ImageFormat } from "../image/index.js";
import { catalogEntryForPath } from "../catalog/index.js";
import { loraTrainingInfo, mergeLoras, openLora } from "../lora/index.js";
import { openPipeline, type Pipeline } from "../pipeline/pipeline.js";
import { renderImage, type RenderRequest } from "../pipeline/render.js";
import { decodeSeedImage } from "../pipeline/prepare-image.js";
import { renderSeededImage } from "../pipeline/render-seeded.js";
import { renderSweep } from "../pipeline/sweep.js";
import { VAE_TILING_MODES, type VAETilingMode } from "../pipeline/vae-tiling.js";
import type { ClipSkipRule } from "../conditioning/index.js";
import type { DenoiseProgress } from "../pipeline/denoise.js";
import { DEVICES, type Device } from "../runtime/index.js";
import type { Float32Tensor } from "../tensor/tensor.js";

const USAGE = `usage: vellum generate --model PATH --prompt P --out image.png [options]

  --model PATH               diffusers folder or single-file .safetensors checkpoint
  --prompt P                 prompt (A1111 weighting syntax; --literal reads it as plain text, one 77-token chunk)
  --negative-prompt N        negative prompt
  --steps S                  denoising steps (default 20)
  --cfg G                    guidance scale (default 7; ≤ 1 turns classifier-free guidance off)
  --guidance-rescale R       diffusers' guidance_rescale (default 0)
  --scheduler NAME           Runware / A1111 / diffusers name (default: the model's own scheduler)
  --seed N                   64-bit seed (default: random, printed)
  --rng gpu|cpu              noise generator: torch CUDA (default) or torch CPU
  --clip-skip C[,C…]         layers skipped beyond the model default (docs/conventions.md); a list renders a sweep;
                             omitted: the catalog's recommendation for the model, else a LoRA's training value, else 0
  --clip-skip-rule R         symmetric (default: negative prompt skipped too) or diffusers (positive only)
  --width W --height H       image size (default: the model's native size)
  --latents FILE             stored standard-normal "latents" tensor instead of seeded noise
  --seed-image FILE          img2img from this image (resized to --width/--height; default: its size rounded down to /8)
  --strength S               img2img / inpainting strength in [0, 1] (default 0.8, with --mask-image 1.0)
  --mask-image FILE          inpainting mask (white = repaint), same size as --seed-image
  --original-size H,W --crops-top-left T,L --target-size H,W   SDXL size conditioning
  --lora FILE[:WEIGHT]       apply a LoRA (repeatable; weight −4..4, default 1)
  --vae FILE                 use this VAE instead of the checkpoint's
  --vae-tiling auto|on|off   decode in 512 px tiles (diffusers' tiled_decode); auto (default): only above 768×768 px
  --literal                  plain-text prompts truncated like diffusers' encode_prompt
  --out FILE                 .png, .jpg or .webp (a sweep writes FILE-cs<N>.<ext> per value)
  --grid FILE                sweep: also write a labelled grid
  --out-tensor FILE          write the float image [1,H,W,3] in 0..1 as "image" (diffusers output_type "np")
  --threads N                ONNX Runtime threads (default: all cores)
  --device cpu|cuda|webgpu   ONNX Runtime execution provider (default cpu; docs/performance.md)`;

function pair(value: string | undefined, flag: string): [number, number] | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(",").map((s) => Number(s.trim()));
  if (parts.length !== 2 || parts.some((n) => !Number.isInteger(n))) throw new UsageError(`${flag} takes two integers H,W`);
  return [parts[0]!, parts[1]!];
}

function int(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new UsageError(`${flag} must be an integer, got ${value}`);
  return n;
}

function num(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UsageError(`${flag} must be a number, got ${value}`);
  return n;
}

class UsageError extends Error {}

function formatOf(path: string): ImageFormat {
  const ext = extname(path).toLowerCase();
  if (ext === ".png") return "png";
  if (ext === ".jpg" || ext === ".jpeg") return "jpeg";
  if (ext === ".webp") return "webp";
  throw new UsageError(`--out must end in .png, .jpg or .webp, got ${path}`);
}

function progressBar(label: string): (p: DenoiseProgress) => void {
  return (p) => {
    if (!process.stderr.isTTY && p.step !== p.total) return;
    const width = 24;
    const done = Math.round((p.step / p.total) * width);
    const perStep = p.elapsedMs / p.step / 1000;
    const eta = perStep * (p.total - p.step);
    process.stderr.write(
      `\r${label} [${"#".repeat(done)}${".".repeat(width - done)}] ${p.step}/${p.total} ${perStep.toFixed(2)} s/step ETA ${eta.toFixed(1)} s`,
    );
    if (p.step === p.total) process.stderr.write("\n");
  };
}

function openLoraMetadata(path: string): Readonly<Record<string, string>> {
  const file = SafetensorsFile.open(path);
  try {
    return file.metadata;
  } finally {
    file.close();
  }
}

function withSuffix(path: string, suffix: string): string {
  const ext = extname(path);
  return `${path.slice(0, path.length - ext.length)}${suffix}${ext}`;
}

export async function generate(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        model: { type: "string" },
        prompt: { type: "string" },
        "negative-prompt": { type: "string" },
        steps: { type: "string" },
        cfg: { type: "string" },
        "guidance-rescale": { type: "string" },
        scheduler: { type: "string" },
        seed: { type: "string" },
        rng: { type: "string" },
        "clip-skip": { type: "string" },
        "clip-skip-rule": { type: "string" },
        width: { type: "string" },
        height: { type: "string" },
        latents: { type: "string" },
        "seed-image": { type: "string" },
        strength: { type: "string" },
        "mask-image": { type: "string" },
        "original-size": { type: "string" },
        "crops-top-left": { type: "string" },
        "target-size": { type: "string" },
        lora: { type: "string", multiple: true },
        vae: { type: "string" },
        "vae-tiling": { type: "string" },
        literal: { type: "boolean" },
        out: { type: "string" },
        grid: { type: "string" },
        "out-tensor": { type: "string" },
        threads: { type: "string" },
        device: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: false,
    }));
  } catch (e) {
    console.error(`vellum generate: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  let model: PipelineModel | undefined;
  let pipeline: Pipeline | undefined;
  try {
    if (values.model === undefined || values.prompt === undefined || (values.out === undefined && values["out-tensor"] === undefined)) {
      throw new UsageError("--model, --prompt and --out are required");
    }
    const rng = values.rng ?? "gpu";
    if (rng !== "gpu" && rng !== "cpu") throw new UsageError(`--rng must be gpu or cpu, got ${rng}`);
    let clipSkips = (values["clip-skip"] ?? "0").split(",").map((s) => int(s.trim(), "--clip-skip")!);
    if (clipSkips.some((c) => c < 0)) throw new UsageError("--clip-skip values must be ≥ 0");
    const rule = values["clip-skip-rule"] ?? "symmetric";
    if (rule !== "symmetric" && rule !== "diffusers") throw new UsageError(`--clip-skip-rule must be symmetric or diffusers, got ${rule}`);
    const clipSkipRule: ClipSkipRule = rule;
    const vaeTiling = values["vae-tiling"] ?? "auto";
    if (!(VAE_TILING_MODES as readonly string[]).includes(vaeTiling)) throw new UsageError(`--vae-tiling must be auto, on or off, got ${vaeTiling}`);
    const seed = values.seed !== undefined ? BigInt(values.seed) : BigInt(randomInt(0, 2 ** 32));
    const format = formatOf(values.out ?? "out.png");

    // The catalog beside the model (if any) gives its prediction type and recommended clipSkip.
    const entry = await catalogEntryForPath(values.model);
    const loaded = loadModel(values.model, {
      ...(values.vae !== undefined && { vaePath: values.vae }),
      ...(entry?.predictionType !== undefined && { predictionType: entry.predictionType }),
    });
    model = loaded.model;
    for (const key of loaded.unmappedKeys.slice(0, 5)) console.error(`note: ignored tensor ${key}`);
    if (values.lora !== undefined && values.lora.length > 0) {
      const loras = values.lora.map((spec) => {
        const m = /^(.*?)(?::(-?[\d.]+))?$/.exec(spec)!;
        return { lora: openLora(m[1]!), weight: m[2] !== undefined ? Number(m[2]) : 1 };
      });
      const merged = mergeLoras(model, loras);
      model = merged.model;
      for (const l of merged.report.perLora) {
        console.error(`lora ${l.path}: ${l.merged} modules merged${l.unmatched.length ? `, ${l.unmatched.length} unmatched (${l.unmatched.slice(0, 3).join(", ")}…)` : ""}`);
      }
    }
    if (values["clip-skip"] === undefined) {
      // No --clip-skip: the model's recommendation (catalog / Civitai "Clip skip"), else a LoRA's training clip skip, else 0.
      const fromLora = (values.lora ?? []).map((spec) => loraTrainingInfo(openLoraMetadata(/^(.*?)(?::(-?[\d.]+))?$/.exec(spec)![1]!)).clipSkip).find((c) => c !== undefined);
      const rec = entry?.recommendedClipSkip ?? (fromLora !== undefined ? { value: fromLora, source: "lora metadata" } : undefined);
      if (rec !== undefined) {
        clipSkips = [rec.value];
        console.error(`clipSkip ${rec.value}: the model's recommended value (${rec.source})`);
      }
    }
    const threads = int(values.threads, "--threads");
    const device = values.device ?? "cpu";
    if (!(DEVICES as readonly string[]).includes(device)) throw new UsageError(`--device must be one of ${DEVICES.join(", ")}, got ${device}`);
    pipeline = await openPipeline(model, { ...(threads !== undefined && { threads }), device: device as Device });
    const native = (pipeline.unetConfig.sampleSize ?? 64) * pipeline.vaeScaleFactor;
    const latentsFile = values.latents !== undefined ? readSafetensors(values.latents).get("latents") : undefined;
    if (values.latents !== undefined && latentsFile === undefined) throw new UsageError(`${values.latents} has no "latents" tensor`);
    const seedImagePath = values["seed-image"];
    if (seedImagePath === undefined && (values.strength !== undefined || values["mask-image"] !== undefined)) {
      throw new UsageError("--strength and --mask-image need --seed-image");
    }
    if (seedImagePath !== undefined && latentsFile !== undefined) throw new UsageError("--latents cannot be combined with --seed-image");
    const seedImage = seedImagePath !== undefined ? await decodeSeedImage(new Uint8Array(readFileSync(seedImagePath))) : undefined;
    const maskImage = values["mask-image"] !== undefined ? new Uint8Array(readFileSync(values["mask-image"])) : undefined;
    const strength = num(values.strength, "--strength") ?? (maskImage !== undefined ? 1 : 0.8);
    const f = pipeline.vaeScaleFactor;
    const fromSeed = (side: number) => Math.floor(side / f) * f;

    const originalSize = pair(values["original-size"], "--original-size");
    const cropsTopLeft = pair(values["crops-top-left"], "--crops-top-left");
    const targetSize = pair(values["target-size"], "--target-size");
    const guidanceRescale = num(values["guidance-rescale"], "--guidance-rescale");
    const base: Omit<RenderRequest, "clipSkip"> = {
      prompt: values.prompt,
      ...(values["negative-prompt"] !== undefined && { negativePrompt: values["negative-prompt"] }),
      literal: values.literal ?? false,
      width: int(values.width, "--width") ?? (seedImage !== undefined ? fromSeed(seedImage.width) : native),
      height: int(values.height, "--height") ?? (seedImage !== undefined ? fromSeed(seedImage.height) : native),
      steps: int(values.steps, "--steps") ?? 20,
      guidanceScale: num(values.cfg, "--cfg") ?? 7,
      ...(guidanceRescale !== undefined && { guidanceRescale }),
      ...(values.scheduler !== undefined && { scheduler: values.scheduler }),
      seed,
      rng,
      ...(latentsFile !== undefined && { latents: latentsFile as Float32Tensor }),
      ...(originalSize && { originalSize }),
      ...(cropsTopLeft && { cropsTopLeft }),
      ...(targetSize && { targetSize }),
      vaeTiling: vaeTiling as VAETilingMode,
      format,
    };
    console.error(`model ${model.source} (${model.family}), seed ${seed}`);

    // One text-encoder run serves every clipSkip value of a sweep.
    const text = { prompt: base.prompt, literal: base.literal ?? false, clipSkipRule, ...(base.negativePrompt !== undefined && { negativePrompt: base.negativePrompt }) };
    const embeddings = await pipeline.conditioner.encodeClipSkips(text, clipSkips);
    const cells = [];
    // A text-to-image list runs batched: one UNet call per step for all values (pipeline/sweep.ts), images in order.
    const bars = clipSkips.map((c) => progressBar(`clipSkip ${c}`));
    const sweep = seedImage === undefined && clipSkips.length > 1 ? renderSweep(pipeline, base, clipSkips, { embeddings, onProgress: (p) => bars[p.imageIndex]!(p) }) : undefined;
    for (const [k, clipSkip] of clipSkips.entries()) {
      const e = embeddings[k]!;
      const layers = e.layers.map((l) => `${l.encoder} hidden_states[${l.hiddenStateIndex}]${l.finalLayerNorm ? " + final LN" : ""}`).join(", ");
      console.error(`clipSkip ${clipSkip}: ${layers}`);
      const ctx = { embeddings: e, onProgress: bars[k]! };
      const rendered =
        sweep !== undefined
          ? (await sweep.next()).value!
          : seedImage !== undefined
            ? await renderSeededImage(pipeline, { ...base, clipSkip, seedImage, strength, ...(maskImage !== undefined && { maskImage }) }, ctx)
            : await renderImage(pipeline, { ...base, clipSkip }, ctx);
      if (values.out !== undefined) {
        const path = clipSkips.length > 1 ? withSuffix(values.out, `-cs${clipSkip}`) : values.out;
        writeFileSync(path, rendered.bytes);
        console.log(path);
      }
      if (values["out-tensor"] !== undefined) {
        const path = clipSkips.length > 1 ? withSuffix(values["out-tensor"], `-cs${clipSkip}`) : values["out-tensor"];
        writeSafetensors(path, { image: rendered.result.image.np });
      }
      const { rgb, width, height } = rendered.result.image;
      cells.push({ rgb, width, height, label: `clipSkip ${clipSkip}` });
    }
    if (values.grid !== undefined) {
      const grid = await makeGrid(cells, cells.length);
      writeFileSync(values.grid, await encodeImage(grid.rgb, grid.width, grid.height, { format: formatOf(values.grid) }));
      console.log(values.grid);
    }
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`vellum generate: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    console.error(`vellum generate: ${(e as Error).message}`);
    return 1;
  } finally {
    await pipeline?.release();
    if (model !== undefined) closeModel(model);
  }
}
