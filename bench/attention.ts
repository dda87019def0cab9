// One attention at UNet sizes, each kernel in turn: MultiHeadAttention (com.microsoft) vs plain ONNX ops.
// npx tsx bench/attention.ts [--tokens 4096] [--channels 320] [--heads 8] [--context 0|77] [--runs 5] [--threads 2]
// Run each kernel in its own process (--kernel mha|unfused) to read its own peak RSS.
import { parseArgs } from "node:util";
import type { AttentionKernel } from "../src/graph/attention-kernel.js";
import { GraphBuilder } from "../src/graph/index.js";
import { createSession } from "../src/runtime/index.js";
import { float32 } from "../src/tensor/tensor.js";
import { attentionCoreFlops } from "./flops.js";
import { formatStage, gib, procStatusBytes, timeStage } from "./stats.js";

const { values } = parseArgs({
  options: {
    tokens: { type: "string", default: "4096" },
    channels: { type: "string", default: "320" },
    heads: { type: "string", default: "8" },
    context: { type: "string", default: "0" },
    batch: { type: "string", default: "2" },
    runs: { type: "string", default: "5" },
    threads: { type: "string", default: "2" },
    kernel: { type: "string" },
  },
});
const [n, c, heads, ctx, batch] = [values.tokens, values.channels, values.heads, values.context, values.batch].map(Number) as [number, number, number, number, number];
const lk = ctx > 0 ? ctx : n;
const kernels: AttentionKernel[] = values.kernel === undefined ? ["mha", "unfused"] : [values.kernel as AttentionKernel];

function rand(size: number, seed: number): Float32Array {
  const a = new Float32Array(size);
  for (let i = 0, s = seed; i < size; i++) a[i] = ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 2;
  return a;
}
const q = float32([batch, n, c], rand(batch * n * c, 1));
const k = float32([batch, lk, c], rand(batch * lk * c, 2));
const v = float32([batch, lk, c], rand(batch * lk * c, 3));
let first: Float32Array | undefined;
for (const kernel of kernels) {
  const g = new GraphBuilder(`attention-${kernel}`);
  const [qi, ki, vi] = ["q", "k", "v"].map((name) => g.input(name, "float32", ["batch", name === "q" ? "lq" : "lk", c]));
  g.output(g.attention(qi!, ki!, vi!, { heads, scale: 1 / Math.sqrt(c / heads), kernel }), "out");
  const session = await createSession(g.build(), { threads: Number(values.threads) });
  let out: Float32Array | undefined;
  const r = await timeStage(`attention ${kernel}`, Number(values.runs), batch * attentionCoreFlops(n, lk, c), async () => {
    out = (await session.run({ q, k, v }))["out"]!.data as Float32Array;
  }, 1);
  let diff = 0;
  if (first === undefined) first = out;
  else for (let i = 0; i < out!.length; i++) diff = Math.max(diff, Math.abs(out![i]! - first[i]!));
  console.log(`${formatStage(r)}  peak RSS ${gib(procStatusBytes("VmHWM"))}${kernels.length > 1 && diff > 0 ? `  max |Δ| vs first ${diff.toExponential(2)}` : ""}`);
  await session.release();
}
