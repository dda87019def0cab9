// Requests and job events as JSON across processes: bigint seeds → decimal strings, bytes → base64, catalog entries →
// their AIR (the worker resolves them again with its own catalog, so a request never carries a path).
import type { CatalogEntry } from "../catalog/types.js";
import type { GeneratedImage, GenerateRequest, JobEvent } from "./types.js";

/**
 * A request as JSON: every plain field as is (so fields added to GenerateRequest cross without codec changes), plus the
 * AIRs of its catalog entries, the seed as a decimal string and the source images in base64.
 */
export type WireRequest = Omit<GenerateRequest, "model" | "loras" | "vae" | "seed" | "seedImage" | "maskImage"> & {
  readonly modelAir: string;
  readonly loras: readonly { air: string; weight: number }[];
  readonly vaeAir?: string;
  readonly seed: string;
  readonly seedImage?: string;
  readonly maskImage?: string;
};

export type WireImage = Omit<GeneratedImage, "seed" | "bytes"> & { seed: string; bytes: string };

/** A job event as a worker writes it: which attempt produced it, and the event with its image encoded. */
export interface WireEvent {
  readonly attempt: string;
  readonly event: Exclude<JobEvent, { type: "image" }> | { readonly type: "image"; readonly image: WireImage };
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
const unb64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "base64"));

export function encodeRequest(r: GenerateRequest): WireRequest {
  const { model, loras, vae, seed, seedImage, maskImage, ...plain } = r;
  return {
    ...plain,
    modelAir: model.air,
    loras: loras.map((l) => ({ air: l.entry.air, weight: l.weight })),
    ...(vae !== undefined ? { vaeAir: vae.air } : {}),
    seed: seed.toString(),
    ...(seedImage !== undefined ? { seedImage: b64(seedImage) } : {}),
    ...(maskImage !== undefined ? { maskImage: b64(maskImage) } : {}),
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
  const { modelAir, loras, vaeAir, seed, seedImage, maskImage, ...plain } = w;
  return {
    ...plain,
    model: entry(modelAir),
    loras: loras.map((l) => ({ entry: entry(l.air), weight: l.weight })),
    ...(vaeAir !== undefined ? { vae: entry(vaeAir) } : {}),
    seed: BigInt(seed),
    ...(seedImage !== undefined ? { seedImage: unb64(seedImage) } : {}),
    ...(maskImage !== undefined ? { maskImage: unb64(maskImage) } : {}),
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
