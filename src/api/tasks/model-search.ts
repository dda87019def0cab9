// modelSearch over the catalog (Runware response shape: one item with totalResults and results[]).
import { z } from "zod";
import type { CatalogEntry } from "../../catalog/types.js";
import type { ApiContext } from "../context.js";
import { int, param, read } from "../runware/params.js";
import type { ResultItem } from "../task-registry.js";

const P = {
  search: param(z.string().max(200), { code: "invalidSearch", type: "string", rule: "search must be a string of at most 200 characters." }),
  tags: param(z.array(z.string()).max(50), { code: "invalidTags", type: "array", rule: "tags must be an array of strings." }),
  category: param(z.string(), { code: "invalidCategory", type: "string", rule: "category must be a string such as checkpoint, lora or vae." }),
  type: param(z.string(), { code: "invalidType", type: "string", rule: "type must be a string such as base." }),
  architecture: param(z.string(), { code: "invalidArchitecture", type: "string", rule: "architecture must be a string such as sd1x or sdxl." }),
  visibility: param(z.enum(["public", "private", "all"]), { code: "invalidVisibility", type: "string", rule: "visibility must be public, private or all." }),
  limit: param(int(1, 100), { code: "invalidLimit", type: "integer", min: 1, max: 100, rule: "limit must be an integer between 1 and 100." }),
  offset: param(z.number().int().min(0), { code: "invalidOffset", type: "integer", min: 0, rule: "offset must be an integer of at least 0." }),
};

function describe(e: CatalogEntry): Record<string, unknown> {
  const d = e.defaults;
  const out: Record<string, unknown> = {
    air: e.air,
    name: e.name,
    version: e.version,
    category: e.category,
    architecture: e.architecture,
    tags: [...(e.tags ?? [])],
    private: false,
  };
  if (e.category === "checkpoint") out.type = "base";
  if (e.description !== undefined) out.comment = e.description;
  if (d.width !== undefined) out.defaultWidth = d.width;
  if (d.height !== undefined) out.defaultHeight = d.height;
  if (d.steps !== undefined) out.defaultSteps = d.steps;
  if (d.scheduler !== undefined) out.defaultScheduler = d.scheduler;
  if (d.CFGScale !== undefined) out.defaultCFG = d.CFGScale;
  if (d.strength !== undefined) out.defaultStrength = d.strength;
  if (d.weight !== undefined) out.defaultWeight = d.weight;
  // vellum extensions
  if (e.recommendedClipSkip !== undefined) out.recommendedClipSkip = e.recommendedClipSkip.value;
  if (e.maxClipSkip !== undefined) out.maxClipSkip = e.maxClipSkip;
  if (e.civitaiClipSkip !== undefined) out.civitaiClipSkip = e.civitaiClipSkip;
  if (e.isDemo === true) out.isDemo = true;
  return out;
}

export function modelSearch(task: Record<string, unknown>, taskUUID: string, ctx: ApiContext): ResultItem {
  const search = read(task, "search", P.search)?.trim().toLowerCase() ?? "";
  const tags = (read(task, "tags", P.tags) ?? []).map((t) => t.toLowerCase());
  const category = read(task, "category", P.category);
  const type = read(task, "type", P.type);
  const architecture = read(task, "architecture", P.architecture);
  const visibility = read(task, "visibility", P.visibility) ?? "all";
  const limit = read(task, "limit", P.limit) ?? 20;
  const offset = read(task, "offset", P.offset) ?? 0;
  const matches = ctx.catalog.list().filter((e) => {
    if (visibility === "private") return false;
    if (category !== undefined && e.category !== category) return false;
    if (type !== undefined && (e.category !== "checkpoint" || type !== "base")) return false;
    if (architecture !== undefined && e.architecture !== architecture) return false;
    const entryTags = (e.tags ?? []).map((t) => t.toLowerCase());
    if (!tags.every((t) => entryTags.includes(t))) return false;
    if (search === "") return true;
    return [e.air, e.name, e.version, e.description ?? "", ...entryTags].some((s) => s.toLowerCase().includes(search));
  });
  return { taskType: "modelSearch", taskUUID, totalResults: matches.length, results: matches.slice(offset, offset + limit).map(describe) };
}
