// `vellum inspect FILE|FOLDER [--json]`: what a model file is — architecture, component configs, dtype, parameter
// counts, metadata, prediction type and where it came from, recommended clipSkip. Reads headers only.
import { statSync } from "node:fs";
import { parseArgs } from "node:util";
import { loadModel } from "../checkpoint/load.js";
import { closeModel, type Component } from "../checkpoint/model.js";
import { SafetensorsFile } from "../checkpoint/safetensors.js";
import { assertSafetensors, singleFileInfo } from "../checkpoint/single-file.js";
import { maxClipSkip } from "../catalog/clip-skip.js";
import { looksLikeLora, loraTrainingInfo, openLora } from "../lora/index.js";
import { numel } from "../tensor/tensor.js";

function params(c: Component | undefined): number {
  if (c === undefined) return 0;
  return c.weights.names().reduce((n, k) => n + numel(c.weights.get(k).shape), 0);
}

export async function inspect(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: "boolean" }, help: { type: "boolean", short: "h" } } });
  const path = positionals[0];
  if (values.help || path === undefined) {
    console.log("usage: vellum inspect FILE|FOLDER [--json]");
    return path === undefined && !values.help ? 2 : 0;
  }
  const out: Record<string, unknown> = { path };
  try {
    if (!statSync(path).isDirectory()) {
      assertSafetensors(path);
      const file = SafetensorsFile.open(path);
      const isLora = looksLikeLora(file.names());
      file.close();
      if (isLora) {
        const lora = openLora(path);
        out["kind"] = "lora";
        out["modules"] = lora.modules.length;
        out["unrecognizedKeys"] = lora.unrecognizedKeys.length;
        out["training"] = loraTrainingInfo(lora.metadata);
        out["metadata"] = lora.metadata;
        lora.file.close();
        print(out, values.json === true);
        return 0;
      }
    }
    const { model, info, unmappedKeys } = loadModel(path);
    const parts = { unet: model.unet, vae: model.vae, text_encoder: model.textEncoder, text_encoder_2: model.textEncoder2 };
    out["kind"] = "checkpoint";
    out["format"] = model.format;
    out["family"] = model.family;
    if (info) {
      out["architecture"] = info.detection.architecture;
      out["inpainting"] = info.detection.inpainting;
      out["dtype"] = info.detection.dtype;
      out["dtypes"] = info.detection.dtypes;
      out["predictionType"] = info.predictionType;
      out["predictionSource"] = info.predictionSource;
      out["sidecars"] = { yaml: info.sidecars.yamlPath ?? null, config: info.sidecars.configPath ?? null };
      out["metadata"] = info.metadata;
      out["unmappedKeys"] = unmappedKeys;
    }
    out["parameters"] = Object.fromEntries(Object.entries(parts).filter(([, c]) => c).map(([k, c]) => [k, params(c)]));
    out["maxClipSkip"] = maxClipSkip(model.family, model.textEncoder?.config, model.textEncoder2?.config) ?? null;
    out["recommendedClipSkip"] = null; // a checkpoint file carries no clip-skip advice; the catalog (Civitai "Clip skip") and LoRA metadata do
    out["configs"] = Object.fromEntries(Object.entries(parts).filter(([, c]) => c).map(([k, c]) => [k, c!.config]));
    if (model.schedulerConfig) out["scheduler"] = model.schedulerConfig;
    closeModel(model);
  } catch (e) {
    // Recognised but not runnable (SD3, FLUX): still say what it is.
    if (!statSync(path).isDirectory() && path.endsWith(".safetensors")) {
      const file = SafetensorsFile.open(path);
      try {
        const info = singleFileInfo(file);
        out["kind"] = "checkpoint";
        out["architecture"] = info.detection.architecture;
        out["loadable"] = info.detection.loadable;
        out["dtype"] = info.detection.dtype;
        out["metadata"] = info.metadata;
      } catch {
        console.error(`vellum inspect: ${(e as Error).message}`);
        return 1;
      } finally {
        file.close();
      }
      out["error"] = (e as Error).message;
      print(out, values.json === true);
      return 1;
    }
    console.error(`vellum inspect: ${(e as Error).message}`);
    return 1;
  }
  print(out, values.json === true);
  return 0;
}

function print(out: Record<string, unknown>, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(out, null, 2));
    return;
  }
  for (const [k, v] of Object.entries(out)) {
    if (k === "configs" || k === "scheduler") {
      console.log(`${k}:`);
      for (const [name, c] of Object.entries(v as Record<string, unknown>)) console.log(`  ${name}: ${JSON.stringify(c)}`);
    } else console.log(`${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`);
  }
}
