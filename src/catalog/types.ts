// The model catalog's shape: what the server lists in modelSearch and resolves AIR ids to.
// Requests name models only by AIR; an AIR resolves only to an entry here, never to a path built from request text.
import type { Family } from "../checkpoint/model.js";

export type ModelCategory = "checkpoint" | "lora" | "vae";

/** Architecture names as Runware's modelSearch reports them (sd1x, sd2x, sdxl, …); non-CLIP ones are recognised, not run. */
export type Architecture = "sd1x" | "sd2x" | "sdxl" | "sdxl-refiner" | "sd3" | "flux1" | "unknown";

export interface ModelDefaults {
  steps?: number;
  CFGScale?: number;
  scheduler?: string;
  width?: number;
  height?: number;
  /** In our unit (diffusers'): layers skipped beyond the model's default. */
  clipSkip?: number;
  strength?: number;
  /** LoRA default weight. */
  weight?: number;
}

export interface CatalogEntry {
  /** `source:id@version`, e.g. `civitai:101055@128078`; files without a catalog entry get a stable `local:<hash>@1`. */
  readonly air: string;
  readonly name: string;
  readonly version: string;
  readonly category: ModelCategory;
  readonly architecture: Architecture;
  /** Set for checkpoints (and LoRAs whose base is known). */
  readonly family?: Family;
  /** Absolute path of the file or diffusers folder (resolved by the catalog, symlinks followed). */
  readonly path: string;
  readonly defaults: ModelDefaults;
  /** Civitai-style "Clip skip: N" as users copy it from model pages (A1111 numbering), when known. */
  readonly civitaiClipSkip?: number;
  /** Recommended clipSkip in our unit, and where that advice came from. */
  readonly recommendedClipSkip?: { value: number; source: "catalog" | "metadata" | "civitai" };
  /** Largest clipSkip the model's text encoders allow (undefined for non-CLIP architectures). */
  readonly maxClipSkip?: number;
  /** From the catalog file; when set it wins over what the checkpoint and its sidecars say (pass it to loadModel). */
  readonly predictionType?: "epsilon" | "v_prediction";
  readonly tags?: readonly string[];
  readonly description?: string;
  /** Built-in demo model with random weights. */
  readonly isDemo?: boolean;
}

export interface ModelCatalog {
  list(): readonly CatalogEntry[];
  resolve(air: string): CatalogEntry | undefined;
  /** Re-scans the models folder. */
  refresh(): Promise<void>;
}
