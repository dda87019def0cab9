// Access to the reference outputs in ../shared/golden and one comparison helper that says where a tensor diverged.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { readSafetensors } from "../../src/checkpoint/safetensors.js";
import { toFloat32, type Tensor } from "../../src/tensor/tensor.js";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const goldenRoot = resolve(repoRoot, "../shared/golden");

export function goldenPath(...parts: string[]): string {
  return resolve(goldenRoot, ...parts);
}

const cache = new Map<string, Map<string, Tensor>>();

/** Every tensor of a golden .safetensors file (cached per path). */
export function loadGolden(...parts: string[]): Map<string, Tensor> {
  const path = goldenPath(...parts);
  let t = cache.get(path);
  if (t === undefined) {
    t = readSafetensors(path);
    cache.set(path, t);
  }
  return t;
}

/** One tensor of a golden file; fails the test with the available keys when it is missing. */
export function goldenTensor(file: string | string[], key: string): Tensor {
  const parts = Array.isArray(file) ? file : [file];
  const t = loadGolden(...parts).get(key);
  if (t === undefined) throw new Error(`golden ${parts.join("/")} has no tensor ${key}`);
  return t;
}

export function goldenJson<T = unknown>(...parts: string[]): T {
  return JSON.parse(readFileSync(goldenPath(...parts), "utf-8")) as T;
}

export interface CloseOptions {
  /** absolute tolerance */
  atol?: number;
  /** relative tolerance, per element: |a − b| ≤ atol + rtol·|b| */
  rtol?: number;
  /** tolerance relative to the largest |golden| value: |a − b| ≤ scaled · max(1, max|b|) */
  scaled?: number;
  label?: string;
}

export interface Divergence {
  maxAbs: number;
  meanAbs: number;
  relL2: number;
  bad: number;
  firstBad: number[];
}

/** Compares element-wise; reports max/mean abs diff, relative L2 and the first mismatching indices. */
export function compare(actual: Tensor | ArrayLike<number>, expected: Tensor | ArrayLike<number>, opts: CloseOptions = {}): Divergence {
  const a = "dtype" in actual ? toFloat32(actual).data : actual;
  const b = "dtype" in expected ? toFloat32(expected).data : expected;
  if (a.length !== b.length) throw new Error(`${opts.label ?? "tensor"}: ${a.length} elements vs ${b.length} expected`);
  let maxB = 0;
  for (let i = 0; i < b.length; i++) maxB = Math.max(maxB, Math.abs(b[i]!));
  const atol = (opts.atol ?? 0) + (opts.scaled ?? 0) * Math.max(1, maxB);
  const rtol = opts.rtol ?? 0;
  let maxAbs = 0, sumAbs = 0, num = 0, den = 0, bad = 0;
  const firstBad: number[] = [];
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= atol + rtol * Math.abs(b[i]!))) {
      bad++;
      if (firstBad.length < 5) firstBad.push(i);
    }
    maxAbs = Math.max(maxAbs, Number.isNaN(d) ? Infinity : d);
    sumAbs += d;
    num += d * d;
    den += b[i]! * b[i]!;
  }
  return { maxAbs, meanAbs: sumAbs / Math.max(1, a.length), relL2: Math.sqrt(num / Math.max(den, 1e-30)), bad, firstBad };
}

/** Fails with a readable report unless every element is within tolerance. */
export function expectClose(actual: Tensor | ArrayLike<number>, expected: Tensor | ArrayLike<number>, opts: CloseOptions = {}): Divergence {
  if ("shape" in actual && "shape" in expected) {
    expect([...actual.shape], `${opts.label ?? "tensor"} shape`).toEqual([...expected.shape]);
  }
  const d = compare(actual, expected, opts);
  if (d.bad > 0) {
    const b = "dtype" in expected ? toFloat32(expected).data : expected;
    const a = "dtype" in actual ? toFloat32(actual).data : actual;
    const where = d.firstBad.map((i) => `[${i}] got ${a[i]} want ${b[i]}`).join("; ");
    expect.fail(
      `${opts.label ?? "tensor"}: ${d.bad} of ${b.length} elements out of tolerance; maxAbs ${d.maxAbs.toExponential(3)}, ` +
        `meanAbs ${d.meanAbs.toExponential(3)}, relL2 ${d.relL2.toExponential(3)}; first: ${where}`,
    );
  }
  return d;
}
