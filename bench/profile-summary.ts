// Sums an ONNX Runtime profile (JSON trace events) by operator type: where a session's run time goes.
import { readFileSync } from "node:fs";

interface TraceEvent {
  cat?: string;
  name?: string;
  dur?: number;
  args?: { op_name?: string };
}

export interface OpTime {
  readonly op: string;
  readonly ms: number;
  readonly nodes: number;
}

/** Kernel time per op type (events named `<node>_kernel_time`), largest first, over every run in the file. */
export function summarizeProfile(path: string): OpTime[] {
  const events = JSON.parse(readFileSync(path, "utf8")) as TraceEvent[];
  const byOp = new Map<string, { us: number; nodes: Set<string> }>();
  for (const e of events) {
    if (e.cat !== "Node" || e.name?.endsWith("_kernel_time") !== true || e.args?.op_name === undefined) continue;
    const entry = byOp.get(e.args.op_name) ?? { us: 0, nodes: new Set<string>() };
    entry.us += e.dur ?? 0;
    entry.nodes.add(e.name);
    byOp.set(e.args.op_name, entry);
  }
  return [...byOp].map(([op, v]) => ({ op, ms: v.us / 1000, nodes: v.nodes.size })).sort((a, b) => b.ms - a.ms);
}

export function formatProfile(ops: readonly OpTime[], top = 12): string {
  const total = ops.reduce((s, o) => s + o.ms, 0);
  return ops
    .slice(0, top)
    .map((o) => `  ${o.op.padEnd(28)} ${(o.ms / 1000).toFixed(2).padStart(8)} s  ${((100 * o.ms) / total).toFixed(1).padStart(5)} %  ${o.nodes} nodes`)
    .join("\n");
}
