// `vellum models [--models DIR] [--data DIR] [--json]`: the model catalog as the server would list it.
import { parseArgs } from "node:util";
import { FolderCatalog } from "../catalog/catalog.js";

export async function models(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { models: { type: "string" }, data: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    console.log("usage: vellum models [--models DIR] [--data DIR] [--json]");
    return 0;
  }
  const catalog = await FolderCatalog.open({ ...(values.models !== undefined && { modelsDir: values.models }), ...(values.data !== undefined && { dataDir: values.data }) });
  const entries = catalog.list();
  if (values.json) {
    console.log(JSON.stringify({ models: entries, skipped: catalog.skipped }, null, 2));
    return 0;
  }
  for (const e of entries) {
    const clip = e.recommendedClipSkip ? ` clipSkip ${e.recommendedClipSkip.value} (${e.recommendedClipSkip.source})` : "";
    const max = e.maxClipSkip !== undefined ? ` max ${e.maxClipSkip}` : "";
    console.log(`${e.air.padEnd(28)} ${e.category.padEnd(10)} ${e.architecture.padEnd(12)} ${e.name}${clip}${max}`);
  }
  for (const s of catalog.skipped) console.log(`skipped ${s.path}: ${s.reason}`);
  return 0;
}
