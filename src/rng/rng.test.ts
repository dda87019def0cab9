import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createGenerator, MAX_SEED } from "./create-generator.js";
import { cudaPhiloxGenerator } from "./cuda-philox.js";
import { Mt19937 } from "./mt19937.js";
import { mulHi32 } from "./philox.js";
import { torchCpuGenerator } from "./torch-cpu.js";

describe("Mt19937", () => {
  it("meets the C++ standard's check: the 10000th output of std::mt19937 seeded 5489 is 4123659995", () => {
    const mt = new Mt19937(5489);
    let x = 0;
    for (let i = 0; i < 10000; i++) x = mt.next32();
    expect(x).toBe(4123659995);
  });
});

describe("mulHi32", () => {
  it("equals the BigInt high word for any uint32 pair", () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), (a, b) => {
        expect(mulHi32(a, b)).toBe(Number((BigInt(a) * BigInt(b)) >> 32n));
      }),
      { numRuns: 5000 },
    );
    expect(mulHi32(0xffffffff, 0xffffffff)).toBe(0xfffffffe);
  });
});

describe("torchCpuGenerator", () => {
  it("uses only the low 32 bits of the seed", () => {
    const a = torchCpuGenerator(2n ** 32n + 7n).randn([1, 4, 8, 8]).data;
    expect(a).toEqual(torchCpuGenerator(7n).randn([1, 4, 8, 8]).data);
  });
  it("caches the sine partner across small calls: randn(1) twice = randn(2)", () => {
    const g = torchCpuGenerator(3n);
    const pair = [g.randn([1]).data[0], g.randn([1]).data[0]];
    expect(pair).toEqual([...torchCpuGenerator(3n).randn([2]).data]);
  });
  it("keeps the cache through a float-path call, which neither uses nor clears it", () => {
    const g = torchCpuGenerator(11n);
    g.randn([1]);
    g.randn([16]);
    const partner = g.randn([1]).data[0];
    expect(partner).toBe(torchCpuGenerator(11n).randn([2]).data[1]);
  });
  it("continues the stream across calls", () => {
    const g = torchCpuGenerator(5n);
    const first = g.randn([32]).data;
    const second = g.randn([32]).data;
    expect(first).toEqual(torchCpuGenerator(5n).randn([32]).data);
    expect(second).not.toEqual(first);
  });
  it("returns the requested shape, finite values, roughly N(0, 1)", () => {
    const t = torchCpuGenerator(9n).randn([1, 4, 64, 64]);
    expect(t.shape).toEqual([1, 4, 64, 64]);
    let s = 0, s2 = 0;
    for (const v of t.data) (s += v), (s2 += v * v);
    const n = t.data.length;
    expect(Math.abs(s / n)).toBeLessThan(0.05);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.05);
  });
});

describe("cudaPhiloxGenerator", () => {
  it("uses all 64 seed bits", () => {
    expect(cudaPhiloxGenerator(2n ** 32n + 7n).randn([16]).data).not.toEqual(cudaPhiloxGenerator(7n).randn([16]).data);
  });
  it("element i depends only on (seed, offset, i): a larger draw starts with a smaller one", () => {
    const small = cudaPhiloxGenerator(42n).randn([1, 4, 8, 8]).data;
    const large = cudaPhiloxGenerator(42n).randn([1, 4, 16, 16]).data;
    expect(large.subarray(0, small.length)).toEqual(small);
  });
  it("advances the offset by one per call", () => {
    const g = cudaPhiloxGenerator(1n);
    const a = g.randn([8]).data;
    const b = g.randn([8]).data;
    expect(b).not.toEqual(a);
    expect(cudaPhiloxGenerator(1n).randn([8]).data).toEqual(a);
  });
});

describe("createGenerator", () => {
  it("defaults to the GPU (Philox) stream and picks the CPU one by name", () => {
    expect(createGenerator(undefined, 42n).randn([16]).data).toEqual(cudaPhiloxGenerator(42n).randn([16]).data);
    expect(createGenerator("cpu", 42n).randn([16]).data).toEqual(torchCpuGenerator(42n).randn([16]).data);
  });
  it("rejects seeds outside [0, 2^63 − 1]", () => {
    expect(() => createGenerator("gpu", -1n)).toThrow(RangeError);
    expect(() => createGenerator("gpu", MAX_SEED + 1n)).toThrow(RangeError);
    expect(() => createGenerator("gpu", MAX_SEED)).not.toThrow();
  });
});
