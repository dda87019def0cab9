// Writes a random-weight SD1.5 or SDXL checkpoint in the original single-file layout (fp16), streaming to disk:
//   npx tsx scripts/make-checkpoint.ts --arch sd15 --out /tmp/sd15-random.safetensors [--tiny] [--fp32] [--seed N]
import { parseArgs } from "node:util";
import { makeCheckpoint, type MakeArch } from "../src/catalog/make-checkpoint.js";

const { values } = parseArgs({
  options: { arch: { type: "string" }, out: { type: "string" }, tiny: { type: "boolean" }, fp32: { type: "boolean" }, seed: { type: "string" } },
});
if ((values.arch !== "sd15" && values.arch !== "sdxl") || values.out === undefined) {
  console.error("usage: npx tsx scripts/make-checkpoint.ts --arch sd15|sdxl --out FILE [--tiny] [--fp32] [--seed N]");
  process.exit(2);
}
const started = Date.now();
const r = makeCheckpoint({
  arch: values.arch as MakeArch,
  out: values.out,
  ...(values.tiny !== undefined && { tiny: values.tiny }),
  dtype: values.fp32 ? "float32" : "float16",
  ...(values.seed !== undefined && { seed: Number(values.seed) }),
});
console.log(`${values.out}: ${r.tensors} tensors, ${(r.bytes / 2 ** 30).toFixed(2)} GiB in ${((Date.now() - started) / 1000).toFixed(1)} s`);
