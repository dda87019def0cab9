// Timing and memory helpers for the benchmark: runs of an async stage, median/min, peak RSS from /proc.
import { readFileSync, writeFileSync } from "node:fs";

export interface StageResult {
  readonly stage: string;
  readonly runsMs: readonly number[];
  /** Process CPU time (user + sys, all threads) of each run: less sensitive to other load on the machine. */
  readonly cpuMs: readonly number[];
  readonly medianMs: number;
  readonly minMs: number;
  /** FLOPs of one run (0 when not counted). */
  readonly flops: number;
  /** Achieved GFLOP/s at the median time. */
  readonly gflops: number;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs `fn` `runs` times (after `warmup` untimed runs) and summarises the wall times. */
export async function timeStage(stage: string, runs: number, flops: number, fn: () => Promise<unknown>, warmup = 0): Promise<StageResult> {
  for (let i = 0; i < warmup; i++) await fn();
  const runsMs: number[] = [];
  const cpuMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    runsMs.push(performance.now() - t0);
    cpuMs.push(cpuMsSince(c0));
  }
  return summarize(stage, runsMs, flops, cpuMs);
}

/** user + sys CPU milliseconds of this process since `start`. */
export function cpuMsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

export function summarize(stage: string, runsMs: readonly number[], flops: number, cpuMs: readonly number[] = []): StageResult {
  const medianMs = median(runsMs);
  return { stage, runsMs, cpuMs, medianMs, minMs: Math.min(...runsMs), flops, gflops: flops > 0 ? flops / 1e9 / (medianMs / 1000) : 0 };
}

/** A field of /proc/self/status in bytes (VmHWM = peak RSS, VmRSS = current); undefined off Linux. */
export function procStatusBytes(field: "VmHWM" | "VmRSS"): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync("/proc/self/status", "utf8"));
    return m === null ? undefined : Number(m[1]) * 1024;
  } catch {
    return undefined;
  }
}

/** Resets VmHWM to the current RSS (Linux `clear_refs` 5), so the next read is the peak of what follows. */
export function resetPeakRss(): boolean {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

export const gib = (bytes: number | undefined): string => (bytes === undefined ? "n/a" : `${(bytes / 2 ** 30).toFixed(2)} GiB`);

export function formatStage(r: StageResult): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(3)} s`;
  const rate = r.flops > 0 ? `  ${(r.flops / 1e9).toFixed(1)} GFLOP → ${r.gflops.toFixed(1)} GFLOP/s` : "";
  const cpu = r.cpuMs.length > 0 ? `  cpu ${s(median(r.cpuMs))}` : "";
  return `${r.stage.padEnd(24)} median ${s(r.medianMs).padStart(10)}  min ${s(r.minMs).padStart(10)}  (${r.runsMs.length} runs)${cpu}${rate}`;
}
