// imageInference: Runware's request fields → a validated task (catalog entries resolved, ranges checked).
// Images (seedImage/maskImage) stay references here; the task handler loads them and builds the GenerateRequest.
import { randomInt } from "node:crypto";
import { z } from "zod";
import type { CatalogEntry, ModelCatalog } from "../../catalog/types.js";
import type { GenerateRequest, OutputFormat } from "../../jobs/types.js";
import { ApiError } from "../errors.js";
import { int, invalid, param, read, need, taskUUIDParam } from "./params.js";
import { canonicalScheduler } from "./schedulers.js";

export type OutputType = "URL" | "base64Data" | "dataURI";

export interface DeliveryOptions {
  readonly outputType: OutputType;
  readonly isAsync: boolean;
  readonly includeCost: boolean;
  /** The client sent checkNSFW:false or safety without checks: results carry NSFWContent:false. */
  readonly reportsNSFW: boolean;
  readonly webhookURL?: string;
  readonly uploadEndpoint?: string;
  readonly ttlSeconds?: number;
  /** vellum extension: stream `{taskType:"imageInferenceProgress", …}` items while denoising. */
  readonly includeProgress: boolean;
}

export interface ImageInferenceTask {
  readonly taskUUID: string;
  readonly request: Omit<GenerateRequest, "seedImage" | "maskImage">;
  readonly seedImageRef?: string;
  readonly maskImageRef?: string;
  readonly delivery: DeliveryOptions;
  /** Notes for every result (e.g. clipSkip ignored for a non-CLIP model). */
  readonly warnings: readonly string[];
}

const MAX_SEED = 2n ** 63n - 1n;
const CLIP_ARCHITECTURES = new Set(["sd1x", "sd2x", "sdxl", "sdxl-refiner"]);
const AIR_RE = /^[A-Za-z0-9_.-]+:[^@\s]+@[^@\s]+$/;

const dimension = (name: "width" | "height") =>
  param(int(128, 2048).refine((v) => v % 64 === 0), {
    code: name === "width" ? "invalidWidth" : "invalidHeight",
    type: "integer",
    min: 128,
    max: 2048,
    rule: `Image ${name} must be an integer between 128 and 2048, divisible by 64.`,
  });

const P = {
  positivePrompt: param(z.string().min(2).max(3000), { code: "invalidPositivePrompt", type: "string", min: 2, max: 3000, rule: "The prompt must be a string between 2 and 3000 characters." }),
  negativePrompt: param(z.string().min(2).max(3000), { code: "invalidNegativePrompt", type: "string", min: 2, max: 3000, rule: "The negative prompt must be a string between 2 and 3000 characters." }),
  model: param(z.union([z.string(), z.number()]).transform(String).pipe(z.string().regex(AIR_RE)), { code: "invalidModel", type: "string", rule: "The model must be an AIR identifier such as civitai:101055@128078." }),
  width: dimension("width"),
  height: dimension("height"),
  steps: param(int(1, 100), { code: "invalidSteps", type: "integer", min: 1, max: 100, rule: "Steps must be an integer between 1 and 100." }),
  CFGScale: param(z.number().min(0).max(50), { code: "invalidCFGScale", type: "float", min: 0, max: 50, rule: "Guidance Scale or Classifier-Free Guidance (CFG) must be a float value between 0 and 50." }),
  seed: param(
    z.union([z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).transform(BigInt), z.string().regex(/^\d{1,19}$/).transform(BigInt)]).refine((s) => s >= 1n && s <= MAX_SEED),
    { code: "invalidSeed", type: "integer", min: 1, max: Number(MAX_SEED), rule: "The seed must be an integer between 1 and 9223372036854775807." },
  ),
  scheduler: param(z.string().transform((s) => canonicalScheduler(s) ?? "").pipe(z.string().min(1)), { code: "invalidScheduler", type: "string", rule: "Unknown scheduler name; see https://runware.ai/docs/en/image-inference/schedulers." }),
  clipSkip: param(z.union([z.number().int(), z.array(z.number().int()).min(1).max(20)]), { code: "invalidClipSkip", type: "integer", min: 0, max: 2, rule: "ClipSkip must be an integer between 0 and 2." }),
  numberResults: param(int(1, 20), { code: "invalidNumberResults", type: "integer", min: 1, max: 20, rule: "The number of results must be an integer between 1 and 20." }),
  outputType: param(z.enum(["URL", "base64Data", "dataURI"]), { code: "invalidOutputType", type: "string", rule: "The output type must be one of URL, base64Data, dataURI." }),
  outputFormat: param(z.string().transform((s) => s.toUpperCase()).pipe(z.enum(["JPG", "JPEG", "PNG", "WEBP"])), { code: "invalidOutputFormat", type: "string", rule: "The output format must be one of JPG, PNG, WEBP." }),
  outputQuality: param(int(20, 99), { code: "invalidOutputQuality", type: "integer", min: 20, max: 99, rule: "The output quality must be an integer between 20 and 99." }),
  includeCost: param(z.boolean(), { code: "invalidIncludeCost", type: "boolean", rule: "includeCost must be a boolean." }),
  checkNSFW: param(z.boolean(), { code: "invalidCheckNSFW", type: "boolean", rule: "checkNSFW must be a boolean." }),
  safety: param(z.object({ checkContent: z.boolean().optional(), mode: z.enum(["none", "fast", "full"]).optional() }), { code: "invalidSafety", type: "object", rule: "safety must be an object {checkContent?: boolean, mode?: none|fast|full}." }),
  deliveryMethod: param(z.enum(["sync", "async"]), { code: "invalidDeliveryMethod", type: "string", rule: "The delivery method must be sync or async." }),
  seedImage: param(z.string().min(1), { code: "invalidSeedImage", type: "string", rule: "The seed image must be specified in one of the following formats: a UUID v4 string of a previously uploaded or generated image, a data URI string, a base64 encoded image, or a publicly accessible URL. Supported formats are: PNG, JPG, and WEBP." }),
  maskImage: param(z.string().min(1), { code: "invalidMaskImage", type: "string", rule: "The mask image must be a UUID v4 of an uploaded or generated image, a data URI, a base64 encoded image or a publicly accessible URL (PNG, JPG or WEBP)." }),
  strength: param(z.number().min(0).max(1), { code: "invalidStrength", type: "float", min: 0, max: 1, rule: "Strength must be a float between 0 and 1." }),
  lora: param(z.array(z.object({ model: z.union([z.string(), z.number()]).transform(String), weight: z.number().min(-4).max(4).optional() })).max(16), { code: "invalidLora", type: "array", rule: "lora must be an array of {model: AIR, weight: -4…4} objects (at most 16)." }),
  vae: param(z.union([z.string(), z.number()]).transform(String).pipe(z.string().regex(AIR_RE)), { code: "invalidVae", type: "string", rule: "The VAE must be an AIR identifier." }),
  webhookURL: param(z.url({ protocol: /^https?$/ }), { code: "invalidWebhookURL", type: "string", rule: "The webhook URL must be an http(s) URL." }),
  uploadEndpoint: param(z.url({ protocol: /^https?$/ }), { code: "invalidUploadEndpoint", type: "string", rule: "The upload endpoint must be an http(s) URL." }),
  ttl: param(z.number().int().min(60), { code: "invalidTtl", type: "integer", min: 60, rule: "ttl must be an integer number of seconds, at least 60." }),
  promptWeighting: param(z.enum(["compel", "sdEmbeds", ""]), { code: "invalidPromptWeighting", type: "string", rule: "promptWeighting must be compel or sdEmbeds." }),
  usePromptWeighting: param(z.boolean(), { code: "invalidUsePromptWeighting", type: "boolean", rule: "usePromptWeighting must be a boolean." }),
  guidanceRescale: param(z.number().min(0).max(1), { code: "invalidGuidanceRescale", type: "float", min: 0, max: 1, rule: "guidanceRescale (vellum extension, diffusers' guidance_rescale) must be a float between 0 and 1." }),
  vaeTiling: param(z.enum(["auto", "on", "off"]), { code: "invalidVaeTiling", type: "string", rule: "vaeTiling (vellum extension) must be auto, on or off." }),
  includeProgress: param(z.boolean(), { code: "invalidIncludeProgress", type: "boolean", rule: "includeProgress must be a boolean." }),
  acceleration: param(z.literal("none"), { code: "unsupportedParameter", type: "string", rule: "Only acceleration \"none\" is supported by this server." }),
};

/** Runware features this server does not implement: present (and non-empty) → unsupportedParameter. */
export const UNSUPPORTED_PARAMETERS = [
  "controlNet", "ipAdapters", "refiner", "outpaint", "embeddings", "referenceImages", "acceleratorOptions",
  "advancedFeatures", "puLID", "acePlusPlus", "photoMaker", "hiresFix", "ultralytics", "providerSettings", "inputs",
  "maskMargin",
] as const;

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0);
}

function unsupported(name: string, why: string): ApiError {
  return new ApiError("unsupportedParameter", `Unsupported parameter: ${name}. ${why}`, { parameter: name });
}

function resolveEntry(catalog: ModelCatalog, air: string, name: string, category: CatalogEntry["category"]): CatalogEntry {
  const entry = catalog.resolve(air);
  if (entry === undefined) {
    throw new ApiError("unknownModel", `Invalid value for ${name} parameter. Unknown ${category} ${JSON.stringify(air)}: it is not installed on this server (see modelSearch).`, { parameter: name, type: "string" });
  }
  if (entry.category !== category) {
    throw new ApiError("invalidModel", `Invalid value for ${name} parameter. ${air} is a ${entry.category}, not a ${category}.`, { parameter: name, type: "string" });
  }
  return entry;
}

function checkClipSkip(value: number, entry: CatalogEntry): void {
  const max = Math.max(2, entry.maxClipSkip ?? 2);
  if (value < 0 || value > max) {
    const rule = max === 2 ? P.clipSkip.rule : `ClipSkip must be an integer between 0 and ${max} for this model (0–2 for every CLIP model).`;
    throw invalid("clipSkip", { ...P.clipSkip, max, rule });
  }
}

/** Validates an imageInference task (the object as received; unknown fields are ignored). */
export function validateImageInference(task: Record<string, unknown>, catalog: ModelCatalog): ImageInferenceTask {
  const taskUUID = need(task, "taskUUID", taskUUIDParam);
  for (const name of UNSUPPORTED_PARAMETERS) {
    if (!isEmpty(task[name])) throw unsupported(name, "This server runs Stable Diffusion checkpoints with LoRAs and VAEs only.");
  }
  read(task, "acceleration", P.acceleration);

  const rawPrompt = need(task, "positivePrompt", P.positivePrompt);
  const negativePrompt = read(task, "negativePrompt", P.negativePrompt) ?? "";
  const model = resolveEntry(catalog, need(task, "model", P.model), "model", "checkpoint");
  const d = model.defaults;
  const widthPx = read(task, "width", P.width) ?? d.width ?? 512;
  const heightPx = read(task, "height", P.height) ?? d.height ?? 512;
  const steps = read(task, "steps", P.steps) ?? d.steps ?? 20;
  const guidanceScale = read(task, "CFGScale", P.CFGScale) ?? d.CFGScale ?? 7;
  const guidanceRescale = read(task, "guidanceRescale", P.guidanceRescale);
  const vaeTiling = read(task, "vaeTiling", P.vaeTiling);
  const seed = read(task, "seed", P.seed) ?? BigInt(randomInt(1, 2 ** 32 - 1));
  const schedulerName = read(task, "scheduler", P.scheduler);
  const scheduler = schedulerName === undefined || schedulerName === "Default" ? d.scheduler : schedulerName;
  let numberResults = read(task, "numberResults", P.numberResults) ?? 1;

  const warnings: string[] = [];
  const rawClipSkip = read(task, "clipSkip", P.clipSkip);
  let clipSkip: number | number[];
  if (!CLIP_ARCHITECTURES.has(model.architecture)) {
    if (rawClipSkip !== undefined) warnings.push(`clipSkip ignored: ${model.air} (${model.architecture}) has no CLIP text encoder.`);
    clipSkip = 0;
  } else if (Array.isArray(rawClipSkip)) {
    rawClipSkip.forEach((c) => checkClipSkip(c, model));
    if (task.numberResults !== undefined && numberResults !== 1 && numberResults !== rawClipSkip.length) {
      throw invalid("numberResults", { ...P.numberResults, rule: "With a clipSkip array (sweep), numberResults must be omitted or equal the array length." });
    }
    numberResults = rawClipSkip.length;
    clipSkip = rawClipSkip;
  } else {
    clipSkip = rawClipSkip ?? model.recommendedClipSkip?.value ?? d.clipSkip ?? 0;
    checkClipSkip(clipSkip, model);
  }

  const outputType = read(task, "outputType", P.outputType) ?? "URL";
  const fmt = read(task, "outputFormat", P.outputFormat) ?? "JPG";
  const format: OutputFormat = fmt === "PNG" ? "png" : fmt === "WEBP" ? "webp" : "jpeg";
  const quality = read(task, "outputQuality", P.outputQuality) ?? 95;
  const includeCost = read(task, "includeCost", P.includeCost) ?? false;
  const checkNSFW = read(task, "checkNSFW", P.checkNSFW);
  const safety = read(task, "safety", P.safety);
  const wantsCheck = checkNSFW === true || safety?.checkContent === true || (safety?.mode !== undefined && safety.mode !== "none");
  if (wantsCheck) {
    throw new ApiError("unsupportedParameter", `Unsupported parameter: ${checkNSFW === true ? "checkNSFW" : "safety"}. This server has no NSFW classifier; send checkNSFW:false or omit it.`, { parameter: checkNSFW === true ? "checkNSFW" : "safety", type: checkNSFW === true ? "boolean" : "object" });
  }
  const isAsync = read(task, "deliveryMethod", P.deliveryMethod) === "async";
  const seedImageRef = read(task, "seedImage", P.seedImage);
  const maskImageRef = read(task, "maskImage", P.maskImage);
  if (maskImageRef !== undefined && seedImageRef === undefined) {
    throw new ApiError("missingSeedImage", "Missing seedImage parameter. Inpainting with maskImage needs a seedImage.", { parameter: "seedImage", type: "string" });
  }
  const strength = read(task, "strength", P.strength) ?? d.strength ?? 0.8;
  const loras = (read(task, "lora", P.lora) ?? []).map((l) => ({ entry: resolveEntry(catalog, l.model, "lora", "lora"), weight: l.weight ?? 1 }));
  const vaeAir = read(task, "vae", P.vae);
  const vae = vaeAir === undefined ? undefined : resolveEntry(catalog, vaeAir, "vae", "vae");
  const webhookURL = read(task, "webhookURL", P.webhookURL);
  const uploadEndpoint = read(task, "uploadEndpoint", P.uploadEndpoint);
  const ttlSeconds = read(task, "ttl", P.ttl);
  read(task, "promptWeighting", P.promptWeighting);
  read(task, "usePromptWeighting", P.usePromptWeighting);
  const includeProgress = read(task, "includeProgress", P.includeProgress) ?? false;

  const request: ImageInferenceTask["request"] = {
    taskUUID,
    model,
    prompt: rawPrompt === "__BLANK__" ? "" : rawPrompt,
    negativePrompt,
    widthPx,
    heightPx,
    steps,
    guidanceScale,
    ...(guidanceRescale !== undefined ? { guidanceRescale } : {}),
    ...(vaeTiling !== undefined ? { vaeTiling } : {}),
    seed,
    ...(scheduler !== undefined ? { scheduler } : {}),
    clipSkip,
    loras,
    ...(vae !== undefined ? { vae } : {}),
    strength,
    numberResults,
    output: { format, quality },
  };
  const delivery: DeliveryOptions = {
    outputType,
    isAsync,
    includeCost,
    reportsNSFW: checkNSFW === false || safety !== undefined,
    includeProgress,
    ...(webhookURL !== undefined ? { webhookURL } : {}),
    ...(uploadEndpoint !== undefined ? { uploadEndpoint } : {}),
    ...(ttlSeconds !== undefined ? { ttlSeconds } : {}),
  };
  return {
    taskUUID,
    request,
    ...(seedImageRef !== undefined ? { seedImageRef } : {}),
    ...(maskImageRef !== undefined ? { maskImageRef } : {}),
    delivery,
    warnings,
  };
}
