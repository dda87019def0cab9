// Files next to a single-file checkpoint that say what its shapes cannot: an A1111-style original config
// (`<basename>.yaml`, the LDM yaml) and `<basename>.config.json` (keys `unet`, `vae`, `text_encoder`,
// `text_encoder_2` holding diffusers / transformers configs, optionally `scheduler`). Both are optional.
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, extname, join } from "node:path";
import { parse as parseYaml } from "yaml";
import type { JsonConfig } from "./model.js";

export interface Sidecars {
  readonly yamlPath?: string;
  readonly configPath?: string;
  /** Overrides read from the yaml (diffusers key names). */
  readonly yaml?: { unet: JsonConfig; vae: JsonConfig; parameterization?: "eps" | "v" };
  /** Full component configs from `<basename>.config.json`. */
  readonly components?: { unet?: JsonConfig; vae?: JsonConfig; textEncoder?: JsonConfig; textEncoder2?: JsonConfig; scheduler?: JsonConfig };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function at(obj: unknown, ...path: string[]): unknown {
  let cur = obj;
  for (const p of path) cur = isObject(cur) ? cur[p] : undefined;
  return cur;
}

/** Diffusers-named overrides from an LDM original-config yaml (what from_single_file reads from it). */
export function yamlOverrides(doc: unknown): NonNullable<Sidecars["yaml"]> {
  const params = at(doc, "model", "params");
  const unetParams = at(params, "unet_config", "params") ?? at(params, "network_config", "params");
  const unet: JsonConfig = {};
  const vae: JsonConfig = {};
  const channels = at(unetParams, "model_channels");
  const mult = at(unetParams, "channel_mult");
  const heads = at(unetParams, "num_heads");
  const headChannels = at(unetParams, "num_head_channels");
  if (typeof heads === "number" && heads > 0) unet["attention_head_dim"] = heads;
  else if (typeof headChannels === "number" && typeof channels === "number" && Array.isArray(mult)) {
    unet["attention_head_dim"] = mult.map((m) => (channels * Number(m)) / headChannels);
  }
  const context = at(unetParams, "context_dim");
  if (typeof context === "number") unet["cross_attention_dim"] = context;
  const linear = at(unetParams, "use_linear_in_transformer");
  if (typeof linear === "boolean") unet["use_linear_projection"] = linear;
  const scale = at(params, "scale_factor");
  if (typeof scale === "number") vae["scaling_factor"] = scale;
  const p = at(params, "parameterization");
  return { unet, vae, ...(p === "v" || p === "eps" ? { parameterization: p } : {}) };
}

/** Reads `<dir>/<basename>.yaml` (or `.yml`) and `<dir>/<basename>.config.json` next to `checkpointPath`. */
export function readSidecars(checkpointPath: string): Sidecars {
  const dir = dirname(checkpointPath);
  const base = basename(checkpointPath, extname(checkpointPath));
  const yamlPath = [".yaml", ".yml"].map((e) => join(dir, base + e)).find((p) => existsSync(p));
  const configPath = join(dir, `${base}.config.json`);
  let yaml: Sidecars["yaml"];
  if (yamlPath !== undefined) {
    try {
      yaml = yamlOverrides(parseYaml(readFileSync(yamlPath, "utf-8")));
    } catch (e) {
      throw new Error(`${yamlPath}: not a readable original-config yaml (${(e as Error).message})`);
    }
  }
  let components: Sidecars["components"];
  if (existsSync(configPath)) {
    const json = JSON.parse(readFileSync(configPath, "utf-8")) as unknown;
    if (!isObject(json)) throw new Error(`${configPath}: expected a JSON object with unet / vae / text_encoder / text_encoder_2`);
    const part = (k: string): JsonConfig | undefined => (isObject(json[k]) ? (json[k] as JsonConfig) : undefined);
    const [unet, vae, textEncoder, textEncoder2, scheduler] = ["unet", "vae", "text_encoder", "text_encoder_2", "scheduler"].map(part);
    components = { ...(unet && { unet }), ...(vae && { vae }), ...(textEncoder && { textEncoder }), ...(textEncoder2 && { textEncoder2 }), ...(scheduler && { scheduler }) };
  }
  return {
    ...(yamlPath !== undefined && { yamlPath }),
    ...(components !== undefined && { configPath }),
    ...(yaml && { yaml }),
    ...(components && { components }),
  };
}
