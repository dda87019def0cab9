// Requests and job events as JSON across processes: bigint seeds → decimal strings, bytes → base64, catalog entries →
// their AIR (the worker resolves them again with its own catalog, so a request never carries a path).
import type { CatalogEntry } from "../catalog/types.js";
import type { GeneratedImage, GenerateRequest, JobEvent } from "./types.js";

export interface WireRequest {
  readonly taskUUID: string;
  readonly modelAir: string;
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly widthPx: number;
  readonly heightPx: number;
  readonly steps: number;
  readonly guidanceScale: number;
  readonly seed: string;
  readonly scheduler?: string;
  readonly clipSkip: number | readonly number[];
  readonly loras: readonly { air: string; weight: number }[];
  readonly vaeAir?: string;
  readonly seedImage?: string;
  readonly maskImage?: string;
  readonly strength: number;
  readonly numberResults: number;
  readonly output: GenerateRequest["output"];
}

export type WireImage = Omit<GeneratedImage, "seed" | "bytes"> & { seed: string; bytes: string };

/** A job event as a worker writes it: which attempt produced it, and the event with its image encoded. */
export interface WireEvent {
  readonly attempt: string;
  readonly event: Exclude<JobEvent, { type: "image" }> | { readonly type: "image"; readonly image: WireImage };
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
const unb64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "base64"));

export function encodeRequest(r: GenerateRequest): WireRequest {
  return {
    taskUUID: r.taskUUID,
    modelAir: r.model.air,
    prompt: r.prompt,
    negativePrompt: r.negativePrompt,
    widthPx: r.widthPx,
    heightPx: r.heightPx,
    steps: r.steps,
    guidanceScale: r.guidanceScale,
    seed: r.seed.toString(),
    ...(r.scheduler !== undefined ? { scheduler: r.scheduler } : {}),
    clipSkip: r.clipSkip,
    loras: r.loras.map((l) => ({ air: l.entry.air, weight: l.weight })),
    ...(r.vae !== undefined ? { vaeAir: r.vae.air } : {}),
    ...(r.seedImage !== undefined ? { seedImage: b64(r.seedImage) } : {}),
    ...(r.maskImage !== undefined ? { maskImage: b64(r.maskImage) } : {}),
    strength: r.strength,
    numberResults: r.numberResults,
    output: r.output,
  };
}

/** Thrown when the worker's catalog does not know an AIR the API accepted (catalogs out of sync). */
export class UnknownModelError extends Error {
  readonly code = "modelNotFound";
}

export function decodeRequest(w: WireRequest, resolve: (air: string) => CatalogEntry | undefined): GenerateRequest {
  const entry = (air: string): CatalogEntry => {
    const e = resolve(air);
    if (e === undefined) throw new UnknownModelError(`The worker's model catalog has no model ${air}.`);
    return e;
  };
  return {
    taskUUID: w.taskUUID,
    model: entry(w.modelAir),
    prompt: w.prompt,
    negativePrompt: w.negativePrompt,
    widthPx: w.widthPx,
    heightPx: w.heightPx,
    steps: w.steps,
    guidanceScale: w.guidanceScale,
    seed: BigInt(w.seed),
    ...(w.scheduler !== undefined ? { scheduler: w.scheduler } : {}),
    clipSkip: w.clipSkip,
    loras: w.loras.map((l) => ({ entry: entry(l.air), weight: l.weight })),
    ...(w.vaeAir !== undefined ? { vae: entry(w.vaeAir) } : {}),
    ...(w.seedImage !== undefined ? { seedImage: unb64(w.seedImage) } : {}),
    ...(w.maskImage !== undefined ? { maskImage: unb64(w.maskImage) } : {}),
    strength: w.strength,
    numberResults: w.numberResults,
    output: w.output,
  };
}

export function encodeEvent(attempt: string, event: JobEvent): string {
  const e: WireEvent["event"] = event.type === "image" ? { type: "image", image: { ...event.image, seed: event.image.seed.toString(), bytes: b64(event.image.bytes) } } : event;
  return JSON.stringify({ attempt, event: e } satisfies WireEvent);
}

export function decodeEvent(text: string): { attempt: string; event: JobEvent } {
  const w = JSON.parse(text) as WireEvent;
  if (w.event.type !== "image") return { attempt: w.attempt, event: w.event };
  const image: GeneratedImage = { ...w.event.image, seed: BigInt(w.event.image.seed), bytes: unb64(w.event.image.bytes) };
  return { attempt: w.attempt, event: { type: "image", image } };
}
