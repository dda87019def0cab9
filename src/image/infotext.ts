// A1111 "infotext" (the PNG `parameters` text): prompt, "Negative prompt: …", then one line of "Key: value" pairs.
//   masterpiece, a red cube
//   Negative prompt: blurry
//   Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x512, Model: sd15, Clip skip: 2, vellum clipSkip: 1
// A value containing "," ":" or a newline is written as a JSON string, as A1111 does.
// Clip skip: A1111's "Clip skip: N" (SD1) uses hidden layer −N, so N = ours + 1, and A1111 omits it when N ≤ 1.
// A1111 ignores clip skip for SD2 / SDXL, so only our own `vellum clipSkip` field is written there.

export interface GenerationParameters {
  prompt: string;
  negativePrompt?: string;
  steps: number;
  /** A1111 sampler name, e.g. "Euler a", "DPM++ 2M". */
  sampler: string;
  /** A1111 "Schedule type", e.g. "Karras". */
  scheduleType?: string;
  cfgScale: number;
  seed: bigint | number;
  width: number;
  height: number;
  model?: string;
  modelHash?: string;
  /** Ours: number of final CLIP layers skipped (0 = last layer). */
  clipSkip: number;
  /** Model family; decides whether A1111's "Clip skip" is written (SD1 only). Default "sd1". */
  family?: "sd1" | "sd2" | "sdxl";
  denoisingStrength?: number;
  /** More "Key: value" pairs, written after ours in insertion order. */
  extra?: Record<string, string | number>;
}

export interface ParsedParameters {
  prompt: string;
  negativePrompt: string;
  /** Every "Key: value" pair of the last line, values unquoted. */
  fields: Record<string, string>;
  steps?: number;
  sampler?: string;
  scheduleType?: string;
  cfgScale?: number;
  seed?: bigint;
  width?: number;
  height?: number;
  model?: string;
  modelHash?: string;
  denoisingStrength?: number;
  /** Ours: from "vellum clipSkip", else from A1111's "Clip skip" − 1, else 0. */
  clipSkip: number;
}

function quote(value: string): string {
  return /[,:\n]/.test(value) ? JSON.stringify(value) : value;
}

export function formatParameters(p: GenerationParameters): string {
  const fields: [string, string | number | bigint | undefined][] = [
    ["Steps", p.steps],
    ["Sampler", p.sampler],
    ["Schedule type", p.scheduleType],
    ["CFG scale", p.cfgScale],
    ["Seed", p.seed],
    ["Size", `${p.width}x${p.height}`],
    ["Model hash", p.modelHash],
    ["Model", p.model],
    ["Denoising strength", p.denoisingStrength],
    ["Clip skip", (p.family ?? "sd1") === "sd1" && p.clipSkip >= 1 ? p.clipSkip + 1 : undefined],
    ["vellum clipSkip", p.clipSkip],
    ...Object.entries(p.extra ?? {}),
  ];
  const line = fields
    .filter((f): f is [string, string | number | bigint] => f[1] !== undefined)
    .map(([k, v]) => `${k}: ${quote(String(v))}`)
    .join(", ");
  const negative = p.negativePrompt ? `\nNegative prompt: ${p.negativePrompt}` : "";
  return `${p.prompt}${negative}\n${line}`.trim();
}

// key: a word, then words, spaces, "-" or "/"; value: a JSON string or anything up to the next comma
const PARAM = /\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/g;

function pairs(line: string): [string, string][] {
  return [...line.matchAll(PARAM)].map((m) => [m[1]!, m[2]!]);
}

function num(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

export function parseParameters(text: string): ParsedParameters {
  const lines = text.trim().split("\n");
  let last = lines.pop() ?? "";
  if (pairs(last).length < 3) {
    lines.push(last); // a prompt without a parameters line
    last = "";
  }
  let prompt = "", negativePrompt = "", isNegative = false;
  for (let line of lines) {
    line = line.trim();
    if (line.startsWith("Negative prompt:")) {
      isNegative = true;
      line = line.slice("Negative prompt:".length).trim();
    }
    if (isNegative) negativePrompt += (negativePrompt === "" ? "" : "\n") + line;
    else prompt += (prompt === "" ? "" : "\n") + line;
  }
  const fields: Record<string, string> = {};
  for (const [k, raw] of pairs(last)) {
    const v = raw.trim();
    fields[k.trim()] = v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? (JSON.parse(v) as string) : v;
  }
  const out: ParsedParameters = { prompt, negativePrompt, fields, clipSkip: 0 };
  const size = /^(\d+)x(\d+)$/.exec(fields["Size"] ?? "");
  if (size) (out.width = Number(size[1])), (out.height = Number(size[2]));
  const set = <K extends keyof ParsedParameters>(key: K, value: ParsedParameters[K] | undefined): void => {
    if (value !== undefined) out[key] = value;
  };
  set("steps", num(fields["Steps"]));
  set("sampler", fields["Sampler"]);
  set("scheduleType", fields["Schedule type"]);
  set("cfgScale", num(fields["CFG scale"]));
  set("seed", /^\d+$/.test(fields["Seed"] ?? "") ? BigInt(fields["Seed"]!) : undefined);
  set("model", fields["Model"]);
  set("modelHash", fields["Model hash"]);
  set("denoisingStrength", num(fields["Denoising strength"]));
  const ours = num(fields["vellum clipSkip"]);
  const a1111 = num(fields["Clip skip"]);
  out.clipSkip = ours ?? (a1111 !== undefined ? Math.max(0, a1111 - 1) : 0);
  return out;
}
