// The model catalog: scans a models folder (symlinks followed) for single-file checkpoints, diffusers folders,
// LoRAs and VAEs; an optional `catalog.json` / `catalog.yaml` there gives AIR ids, names, categories, defaults and
// Civitai "Clip skip: N". Files without an entry get a stable `local:<hash of relative path>@1`. Requests resolve
// models only by AIR — never by a path taken from request text.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { extname, join, relative, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { detectCheckpoint } from "../checkpoint/detect.js";
import type { Family, JsonConfig } from "../checkpoint/model.js";
import { SafetensorsFile } from "../checkpoint/safetensors.js";
import { singleFileInfo } from "../checkpoint/single-file.js";
import { looksLikeLora, loraTrainingInfo } from "../lora/index.js";
import { civitaiToClipSkip, maxClipSkip } from "./clip-skip.js";
import { DEMO_AIR, ensureDemoModel } from "./demo.js";
import type { Architecture, CatalogEntry, ModelCatalog, ModelCategory, ModelDefaults } from "./types.js";

export interface CatalogOptions {
  /** Default `./models`. */
  readonly modelsDir?: string;
  /** Where the demo model is written; default `./data`. */
  readonly dataDir?: string;
  /** Write and list `vellum:demo@1` when there is no checkpoint (default true). */
  readonly demo?: boolean;
}

/** One row of `catalog.json` / `catalog.yaml` (`{ models: [...] }`). */
export interface CatalogFileEntry {
  air: string;
  /** Path relative to the models folder. */
  file: string;
  name?: string;
  version?: string;
  category?: ModelCategory;
  defaults?: ModelDefaults;
  /** Civitai "Clip skip: N" (A1111 numbering) as a number or the literal text. */
  clipSkip?: number | string;
  predictionType?: "epsilon" | "v_prediction";
  tags?: string[];
  description?: string;
}

export interface SkippedFile {
  readonly path: string;
  readonly reason: string;
}

const AIR_RE = /^[a-z0-9][a-z0-9_-]*:[A-Za-z0-9._-]+@[A-Za-z0-9._-]+$/;

export function localAir(relativePath: string): string {
  return `local:${createHash("sha256").update(relativePath.split("\\").join("/")).digest("hex").slice(0, 12)}@1`;
}

function parseCivitaiClipSkip(v: number | string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === "number" ? v : Number(/(\d+)/.exec(v)?.[1]);
  return Number.isInteger(n) && n >= 1 ? n : undefined;
}

const ARCH: Record<Family, Architecture> = { sd1: "sd1x", sd2: "sd2x", sdxl: "sdxl", "sdxl-refiner": "sdxl-refiner" };

interface Found {
  path: string;
  category: ModelCategory;
  architecture: Architecture;
  family?: Family;
  maxClipSkip?: number;
  metadataClipSkip?: number;
  title?: string;
  isDemo?: boolean;
}

function readJson(p: string): JsonConfig | undefined {
  return existsSync(p) ? (JSON.parse(readFileSync(p, "utf-8")) as JsonConfig) : undefined;
}

function inspectFolder(dir: string): Found {
  const te = readJson(join(dir, "text_encoder", "config.json"));
  const te2 = readJson(join(dir, "text_encoder_2", "config.json"));
  const family: Family = te2 ? (te ? "sdxl" : "sdxl-refiner") : te?.["hidden_act"] === "gelu" ? "sd2" : "sd1";
  const max = maxClipSkip(family, te, te2);
  return { path: dir, category: "checkpoint", architecture: ARCH[family], family, ...(max !== undefined && { maxClipSkip: max }) };
}

function inspectFile(path: string): Found | SkippedFile {
  const file = SafetensorsFile.open(path);
  try {
    const keys = file.names();
    if (looksLikeLora(keys)) {
      const info = loraTrainingInfo(file.metadata);
      return {
        path,
        category: "lora",
        architecture: info.family ? ARCH[info.family] : "unknown",
        ...(info.family && { family: info.family }),
        ...(info.clipSkip !== undefined && { metadataClipSkip: info.clipSkip }),
        ...(info.title !== undefined && { title: info.title }),
      };
    }
    const det = detectCheckpoint(file);
    if (det.ok && det.loadable) {
      const info = singleFileInfo(file);
      const max = maxClipSkip(det.family!, info.configs.textEncoder, info.configs.textEncoder2);
      return {
        path,
        category: "checkpoint",
        architecture: det.architecture,
        family: det.family!,
        ...(max !== undefined && { maxClipSkip: max }),
        ...(file.metadata["vellum.demo"] === "true" && { isDemo: true }),
        ...(file.metadata["modelspec.title"] !== undefined && { title: file.metadata["modelspec.title"] }),
      };
    }
    if (det.ok) return { path, category: "checkpoint", architecture: det.architecture };
    if (keys.some((k) => /^(first_stage_model\.|vae\.)?(decoder\.conv_in|decoder\.up_blocks\.0\.)/.test(k))) {
      return { path, category: "vae", architecture: "unknown" };
    }
    return { path, reason: det.message };
  } finally {
    file.close();
  }
}

/** Walks `root` following symlinks (each real directory once); diffusers folders are not descended into. */
function walk(root: string, found: Found[], skipped: SkippedFile[]): void {
  const seen = new Set<string>();
  const visit = (dir: string): void => {
    const real = realpathSync(dir);
    if (seen.has(real)) return;
    seen.add(real);
    if (existsSync(join(dir, "model_index.json")) || existsSync(join(dir, "unet", "config.json"))) {
      found.push(inspectFolder(dir));
      return;
    }
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith(".")) continue;
      const p = join(dir, name);
      let st;
      try {
        st = statSync(p);
      } catch {
        skipped.push({ path: p, reason: "broken symlink" });
        continue;
      }
      if (st.isDirectory()) visit(p);
      else if (extname(name) === ".safetensors") {
        try {
          const r = inspectFile(p);
          if ("reason" in r) skipped.push(r);
          else found.push(r);
        } catch (e) {
          skipped.push({ path: p, reason: (e as Error).message });
        }
      } else if ([".ckpt", ".pt", ".pth"].includes(extname(name))) {
        skipped.push({ path: p, reason: "pickle checkpoints are never loaded; convert to .safetensors" });
      }
    }
  };
  if (existsSync(root)) visit(root);
}

function readCatalogFile(dir: string): CatalogFileEntry[] {
  for (const name of ["catalog.json", "catalog.yaml", "catalog.yml"]) {
    const p = join(dir, name);
    if (!existsSync(p)) continue;
    const text = readFileSync(p, "utf-8");
    const doc = (name.endsWith(".json") ? JSON.parse(text) : parseYaml(text)) as { models?: unknown };
    if (!Array.isArray(doc?.models)) throw new Error(`${p}: expected { models: [...] }`);
    for (const m of doc.models as CatalogFileEntry[]) {
      if (typeof m.air !== "string" || !AIR_RE.test(m.air)) throw new Error(`${p}: bad AIR ${JSON.stringify(m.air)} (expected source:id@version)`);
      if (typeof m.file !== "string") throw new Error(`${p}: entry ${m.air} has no file`);
      if (m.predictionType !== undefined && m.predictionType !== "epsilon" && m.predictionType !== "v_prediction") {
        throw new Error(`${p}: entry ${m.air}: predictionType must be epsilon or v_prediction, got ${JSON.stringify(m.predictionType)}`);
      }
    }
    return doc.models as CatalogFileEntry[];
  }
  return [];
}

export class FolderCatalog implements ModelCatalog {
  private entries: CatalogEntry[] = [];
  private byAir = new Map<string, CatalogEntry>();
  skipped: SkippedFile[] = [];
  readonly modelsDir: string;
  readonly dataDir: string;

  private constructor(private readonly opts: CatalogOptions) {
    this.modelsDir = resolve(opts.modelsDir ?? "models");
    this.dataDir = resolve(opts.dataDir ?? "data");
  }

  static async open(opts: CatalogOptions = {}): Promise<FolderCatalog> {
    const c = new FolderCatalog(opts);
    await c.refresh();
    return c;
  }

  list(): readonly CatalogEntry[] {
    return this.entries;
  }

  resolve(air: string): CatalogEntry | undefined {
    return this.byAir.get(air);
  }

  async refresh(): Promise<void> {
    const found: Found[] = [];
    const skipped: SkippedFile[] = [];
    walk(this.modelsDir, found, skipped);
    if (this.opts.demo !== false && !found.some((f) => f.category === "checkpoint" && f.family !== undefined)) {
      const demo = inspectFile(ensureDemoModel(this.dataDir));
      if (!("reason" in demo)) found.push({ ...demo, isDemo: true });
    }
    const declared = existsSync(this.modelsDir) ? readCatalogFile(this.modelsDir) : [];
    const byReal = new Map(declared.map((d) => [safeReal(join(this.modelsDir, d.file)), d]));
    const entries: CatalogEntry[] = [];
    for (const f of found) {
      const rel = relative(this.modelsDir, f.path);
      const d = byReal.get(safeReal(f.path));
      entries.push(this.entry(f, rel, d));
    }
    for (const d of declared) {
      if (!existsSync(join(this.modelsDir, d.file))) skipped.push({ path: join(this.modelsDir, d.file), reason: `catalog entry ${d.air}: file not found` });
    }
    entries.sort((a, b) => Number(b.isDemo ?? false) - Number(a.isDemo ?? false) || a.category.localeCompare(b.category) || a.name.localeCompare(b.name));
    this.entries = entries;
    this.byAir = new Map(entries.map((e) => [e.air, e]));
    this.skipped = skipped;
  }

  private entry(f: Found, rel: string, d: CatalogFileEntry | undefined): CatalogEntry {
    const civitai = parseCivitaiClipSkip(d?.clipSkip);
    let recommended: CatalogEntry["recommendedClipSkip"];
    if (d?.defaults?.clipSkip !== undefined) recommended = { value: d.defaults.clipSkip, source: "catalog" };
    else if (civitai !== undefined && f.family) recommended = { value: civitaiToClipSkip(civitai, f.family), source: "civitai" };
    else if (f.metadataClipSkip !== undefined) recommended = { value: f.metadataClipSkip, source: "metadata" };
    const name = f.isDemo ? "vellum demo (RANDOM weights, images are noise)" : d?.name ?? f.title ?? rel.replace(/\.safetensors$/, "");
    return {
      air: f.isDemo ? DEMO_AIR : d?.air ?? localAir(rel),
      name,
      version: d?.version ?? "1",
      category: d?.category ?? f.category,
      architecture: f.architecture,
      ...(f.family && { family: f.family }),
      path: safeReal(f.path),
      defaults: d?.defaults ?? {},
      ...(civitai !== undefined && { civitaiClipSkip: civitai }),
      ...(recommended && { recommendedClipSkip: recommended }),
      ...(f.maxClipSkip !== undefined && { maxClipSkip: f.maxClipSkip }),
      ...(d?.predictionType !== undefined && { predictionType: d.predictionType }),
      ...(d?.tags && { tags: d.tags }),
      ...(d?.description && { description: d.description }),
      ...(f.isDemo && { isDemo: true }),
    };
  }
}

function safeReal(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}
