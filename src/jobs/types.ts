// The seam between the API and whatever makes images: the internal request, the generator function type and the
// queue interface. Runware spellings never reach this file (api/runware maps them once); nothing here knows HTTP.
import type { CatalogEntry } from "../catalog/types.js";

export type OutputFormat = "png" | "jpeg" | "webp";

export interface LoRARequest {
  readonly entry: CatalogEntry;
  /** Runware range −4…4. */
  readonly weight: number;
}

/** One validated text-to-image / img2img / inpainting request, in the pipeline's names. */
export interface GenerateRequest {
  /** The Runware taskUUID, for logs and file names; the generator must not depend on it. */
  readonly taskUUID: string;
  readonly model: CatalogEntry;
  /** Runware `positivePrompt` (`__BLANK__` already mapped to ""). */
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly widthPx: number;
  readonly heightPx: number;
  readonly steps: number;
  /** Runware `CFGScale`. */
  readonly guidanceScale: number;
  /** diffusers' `guidance_rescale` 0…1 (vellum extension field `guidanceRescale`); undefined = 0. */
  readonly guidanceRescale?: number;
  /** VAE decode/encode in tiles (vellum extension field `vaeTiling`); undefined = "auto": tiles above 768 × 768 px only. */
  readonly vaeTiling?: "auto" | "on" | "off";
  /** Seed of the first image; image i uses seed + i (wrapping is the caller's concern: seeds stay < 2^63). */
  readonly seed: bigint;
  /** Runware scheduler name as sent (canonical spelling, e.g. "DPM++ 2M Karras"); undefined → the model's own. */
  readonly scheduler?: string;
  /**
   * Extra CLIP layers skipped, diffusers' unit (docs/conventions.md). A number applies to every image; an array is the
   * vellum sweep extension: image i uses clipSkip[i] (numberResults equals the array length, all images share `seed`).
   * Always 0 for non-CLIP architectures (the API already warned).
   */
  readonly clipSkip: number | readonly number[];
  readonly loras: readonly LoRARequest[];
  readonly vae?: CatalogEntry;
  /** Encoded PNG/JPEG/WEBP bytes (img2img / inpainting source). */
  readonly seedImage?: Uint8Array;
  /** Encoded mask (white = repaint); only with seedImage. */
  readonly maskImage?: Uint8Array;
  /** img2img strength 0…1 (only meaningful with seedImage). */
  readonly strength: number;
  /** Images to produce, 1…20 (streamed one by one). */
  readonly numberResults: number;
  readonly output: { readonly format: OutputFormat; /** 20…99, JPEG/WEBP only. */ readonly quality: number };
}

/** Which hidden layer each text encoder used, e.g. `{ clipSkip: 1, layers: { clipL: 11 } }` (echoed to the client). */
export interface ClipSkipApplied {
  readonly clipSkip: number;
  /** Index into each encoder's (L+1)-long hidden_states (`clipL`, `openClipH`, `clipG`). */
  readonly layers?: Readonly<Record<string, number>>;
  /** Whether the encoder's final layer norm was applied to that hidden state (SD1/SD2 yes, SDXL no). */
  readonly finalLayerNorm?: boolean;
}

export interface GeneratedImage {
  /** 0-based position among the request's numberResults. */
  readonly index: number;
  readonly seed: bigint;
  /** Encoded image in the requested output format. */
  readonly bytes: Uint8Array;
  readonly mime: "image/png" | "image/jpeg" | "image/webp";
  readonly clipSkipApplied?: ClipSkipApplied;
  readonly warnings?: readonly string[];
}

export interface GenerateProgress {
  readonly step: number;
  readonly total: number;
  readonly imageIndex: number;
}

export interface GenerateContext {
  /** Aborted on cancel / shutdown; check it between denoising steps and throw (any error) when set. */
  readonly signal: AbortSignal;
  onProgress(p: GenerateProgress): void;
}

/** Makes the images of one request, yielding each as soon as it is encoded. Throw a `JobError`-like `{code, message}` to choose the wire code. */
export type Generator = (req: GenerateRequest, ctx: GenerateContext) => AsyncIterable<GeneratedImage>;

/** A failure as the wire will show it: a Runware-style camelCase code and a human message. */
export interface JobError {
  readonly code: string;
  readonly message: string;
  /** Optional Runware error details (e.g. invalidClipSkip: parameter "clipSkip", type "integer", min, max). */
  readonly parameter?: string;
  readonly type?: string;
  readonly min?: number;
  readonly max?: number;
}

export type JobEvent =
  | { readonly type: "started" }
  | ({ readonly type: "progress" } & GenerateProgress)
  | { readonly type: "image"; readonly image: GeneratedImage }
  | { readonly type: "done" }
  | { readonly type: "failed"; readonly error: JobError };

export type JobListener = (event: JobEvent) => void;

export interface QueueStats {
  readonly waiting: number;
  readonly running: number;
  readonly maxLength: number;
}

export interface SubmitOptions {
  /** Who submitted the job (the API key's owner id); counted against the queue's `maxPerOwner`. */
  readonly owner?: string;
}

/**
 * A job queue, backend-agnostic (in-process now, BullMQ later). Every job ends with exactly one `done` or `failed`
 * event; cancelling a waiting job fails it with `taskCancelled`, a running one is aborted between steps.
 */
export interface Queue {
  /**
   * Throws `QueueFullError` when the queue holds `maxLength` waiting jobs, `OwnerLimitError` when `options.owner`
   * already has `maxPerOwner` jobs waiting or running, or `QueueClosedError` after `close`.
   */
  submit(id: string, request: GenerateRequest, listener: JobListener, options?: SubmitOptions): void;
  /** False when no such job is waiting or running. */
  cancel(id: string): boolean;
  stats(): QueueStats;
  /** Stops accepting jobs, fails waiting ones, lets running ones finish for up to `graceMs`, then aborts them. */
  close(graceMs: number): Promise<void>;
}

export class QueueFullError extends Error {
  readonly code = "serviceUnavailable";
  constructor(maxLength: number) {
    super(`The generation queue is full (${maxLength} waiting tasks). Retry later.`);
  }
}

/** Too many running + waiting jobs for one owner (API key). */
export class OwnerLimitError extends Error {
  readonly code = "rateLimitExceeded";
  constructor(readonly limit: number) {
    super(`Too many concurrent tasks for this API key: at most ${limit} may be running or queued at once. Wait for one to finish, then retry.`);
  }
}

export class QueueClosedError extends Error {
  readonly code = "serviceUnavailable";
  constructor() {
    super("The server is shutting down and accepts no new generation tasks.");
  }
}

/**
 * Maps anything a generator threw to a wire-ready `JobError` (a string `code` is kept, otherwise `inferenceError`;
 * string `parameter`/`type` and finite `min`/`max` are kept as error details).
 */
export function toJobError(err: unknown): JobError {
  const e = err as { code?: unknown; message?: unknown; parameter?: unknown; type?: unknown; min?: unknown; max?: unknown } | null;
  const message = typeof e?.message === "string" && e.message !== "" ? e.message : String(err);
  const code = typeof e?.code === "string" && /^[a-z][A-Za-z0-9]*$/.test(e.code) ? e.code : "inferenceError";
  const str = (v: unknown) => (typeof v === "string" && /^[A-Za-z][A-Za-z0-9_.]*$/.test(v) ? v : undefined);
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
  const parameter = str(e?.parameter);
  const type = str(e?.type);
  const min = num(e?.min);
  const max = num(e?.max);
  return {
    code,
    message,
    ...(parameter !== undefined && { parameter }),
    ...(type !== undefined && { type }),
    ...(min !== undefined && { min }),
    ...(max !== undefined && { max }),
  };
}
