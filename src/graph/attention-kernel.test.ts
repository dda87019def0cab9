// Both attention kernels against a plain JS softmax(q·kᵀ·scale + mask)·v, per head.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSession } from "../runtime/index.js";
import { float32 } from "../tensor/tensor.js";
import { defaultAttentionKernel, type AttentionKernel } from "./attention-kernel.js";
import { GraphBuilder } from "./index.js";

beforeAll(() => {
  process.env["VELLUM_CACHE_DIR"] = mkdtempSync(join(tmpdir(), "vellum-attn-"));
});
afterEach(() => {
  delete process.env["VELLUM_ATTENTION"];
});

const rand = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed * 78.233) * 1.3);

/** q [B, Lq, N·D], k/v [B, Lk, N·D], mask [Lq, Lk] → [B, Lq, N·D]. */
function reference(q: Float32Array, k: Float32Array, v: Float32Array, d: { b: number; lq: number; lk: number; n: number; hd: number }, scale: number, mask?: Float32Array): Float32Array {
  const c = d.n * d.hd;
  const out = new Float32Array(d.b * d.lq * c);
  for (let b = 0; b < d.b; b++)
    for (let h = 0; h < d.n; h++)
      for (let i = 0; i < d.lq; i++) {
        const s = Array.from({ length: d.lk }, (_, j) => {
          let dot = 0;
          for (let e = 0; e < d.hd; e++) dot += q[(b * d.lq + i) * c + h * d.hd + e]! * k[(b * d.lk + j) * c + h * d.hd + e]!;
          return dot * scale + (mask?.[i * d.lk + j] ?? 0);
        });
        const max = Math.max(...s);
        const p = s.map((x) => Math.exp(x - max));
        const sum = p.reduce((a, x) => a + x, 0);
        for (let e = 0; e < d.hd; e++) {
          let acc = 0;
          for (let j = 0; j < d.lk; j++) acc += (p[j]! / sum) * v[(b * d.lk + j) * c + h * d.hd + e]!;
          out[(b * d.lq + i) * c + h * d.hd + e] = acc;
        }
      }
  return out;
}

describe("attention kernels", () => {
  const d = { b: 2, lq: 7, lk: 5, n: 3, hd: 4 };
  const c = d.n * d.hd;
  const [q, k, v] = [rand(d.b * d.lq * c, 1), rand(d.b * d.lk * c, 2), rand(d.b * d.lk * c, 3)];
  const causalish = Float32Array.from({ length: d.lq * d.lk }, (_, i) => (i % d.lk > Math.floor(i / d.lk) ? -3.4028234663852886e38 : 0));

  for (const kernel of ["mha", "unfused"] as AttentionKernel[]) {
    for (const masked of [false, true]) {
      it(`${kernel}${masked ? " with a [Lq, Lk] mask" : ""} matches the reference`, async () => {
        const g = new GraphBuilder();
        const [qi, ki, vi] = [g.input("q", "float32", [d.b, d.lq, c]), g.input("k", "float32", [d.b, d.lk, c]), g.input("v", "float32", [d.b, d.lk, c])];
        const mask = masked ? g.constant(float32([d.lq, d.lk], causalish)) : undefined;
        g.output(g.attention(qi, ki, vi, { heads: d.n, scale: 0.5, kernel, ...(mask !== undefined && { mask }) }), "y");
        const s = await createSession(g.build(), { threads: 1 });
        const y = (await s.run({ q: float32([d.b, d.lq, c], q), k: float32([d.b, d.lk, c], k), v: float32([d.b, d.lk, c], v) }))["y"]!;
        await s.release();
        const want = reference(q, k, v, d, 0.5, masked ? causalish : undefined);
        const got = y.data as Float32Array;
        expect(y.shape).toEqual([d.b, d.lq, c]);
        expect(Math.max(...got.map((x, i) => Math.abs(x - want[i]!)))).toBeLessThan(1e-5);
      });
    }
  }

  it("defaults to mha and follows VELLUM_ATTENTION", () => {
    expect(defaultAttentionKernel()).toBe("mha");
    process.env["VELLUM_ATTENTION"] = "unfused";
    expect(defaultAttentionKernel()).toBe("unfused");
    process.env["VELLUM_ATTENTION"] = "flash";
    expect(() => defaultAttentionKernel()).toThrow(/VELLUM_ATTENTION/);
  });
});
