// clipSkip sweep cost: encoding K clipSkip values of one prompt takes one run per text encoder, whatever K.
// Run: npx tsx bench/encode.ts --model DIR [--prompt P] [--repeat R]
import { parseArgs } from "node:util";
import { closeModel, loadDiffusersFolder } from "../src/checkpoint/model.js";
import { createConditioner } from "../src/conditioning/index.js";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    prompt: { type: "string", default: "a highly detailed matte painting of a city at night, neon signs, rain" },
    negative: { type: "string", default: "blurry, lowres" },
    repeat: { type: "string", default: "5" },
  },
});
if (values.model === undefined) {
  console.error("usage: npx tsx bench/encode.ts --model DIR [--prompt P] [--repeat R]");
  process.exit(2);
}
const model = loadDiffusersFolder(values.model);
const cond = await createConditioner(model);
const repeat = Number(values.repeat);
const maxK = Math.min(4, cond.maxClipSkip + 1);
console.log(`${model.family}: ${model.source} (clipSkip 0..${cond.maxClipSkip} allowed), ${repeat} repeats`);
await cond.encode({ prompt: values.prompt, negativePrompt: values.negative }); // warm-up
for (let k = 1; k <= maxK; k++) {
  const clipSkips = Array.from({ length: k }, (_, i) => i);
  const runsBefore = cond.runs;
  const start = performance.now();
  for (let r = 0; r < repeat; r++) await cond.encodeClipSkips({ prompt: values.prompt, negativePrompt: values.negative }, clipSkips);
  const ms = (performance.now() - start) / repeat;
  const runs = (cond.runs - runsBefore) / repeat;
  console.log(`K = ${k} clipSkips [${clipSkips.join(", ")}]: ${runs} encoder run(s), ${ms.toFixed(2)} ms per sweep`);
}
await cond.release();
closeModel(model);
