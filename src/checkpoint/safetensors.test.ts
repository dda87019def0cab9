import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { float32, tensor } from "../tensor/tensor.js";
import { encodeSafetensors, parseHeader, readSafetensors, SafetensorsError, SafetensorsFile, writeSafetensors } from "./safetensors.js";

const dir = mkdtempSync(join(tmpdir(), "vellum-st-"));

function headerBytes(json: string, dataBytes = 0): Buffer {
  const h = Buffer.from(json);
  const out = Buffer.alloc(8 + h.length + dataBytes);
  out.writeBigUInt64LE(BigInt(h.length), 0);
  h.copy(out, 8);
  return out;
}

describe("safetensors", () => {
  it("round-trips tensors and metadata through a file", () => {
    const path = join(dir, "a.safetensors");
    const a = float32([2, 3], [1, 2, 3, 4, 5, 6]);
    const b = tensor("int64", [2], BigInt64Array.from([7n, -8n]));
    const h = tensor("float16", [1], Uint16Array.from([0x3c00]));
    writeSafetensors(path, { a, b, h }, { format: "pt" });
    const file = SafetensorsFile.open(path);
    expect(file.metadata).toEqual({ format: "pt" });
    expect(file.info("a").shape).toEqual([2, 3]);
    expect([...(file.read("a").data as Float32Array)]).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...(file.read("b").data as BigInt64Array)]).toEqual([7n, -8n]);
    expect(file.read("h").dtype).toBe("float16");
    file.close();
    expect(readSafetensors(path).size).toBe(3);
  });

  it("reports the offset of each tensor inside the file", () => {
    const bytes = encodeSafetensors({ x: float32([2], [3, 4]) });
    const header = parseHeader(bytes, bytes.length);
    const info = header.tensors.get("x")!;
    expect(new Float32Array(bytes.buffer.slice(bytes.byteOffset + info.offset, bytes.byteOffset + info.offset + 8))).toEqual(Float32Array.from([3, 4]));
  });

  const bad: [string, Buffer, RegExp][] = [
    ["empty file", Buffer.alloc(0), /truncated/],
    ["header length past end", (() => { const b = Buffer.alloc(16); b.writeBigUInt64LE(1000n, 0); return b; })(), /past the end/],
    ["absurd header length", (() => { const b = Buffer.alloc(16); b.writeBigUInt64LE(2n ** 62n, 0); return b; })(), /bad header length/],
    ["not JSON", headerBytes("{nope"), /not valid UTF-8 JSON/],
    ["JSON array", headerBytes("[1,2]"), /JSON object/],
    ["unknown dtype", headerBytes('{"x":{"dtype":"F7","shape":[1],"data_offsets":[0,4]}}', 4), /unknown dtype/],
    ["out of range", headerBytes('{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', 4), /out of range/],
    ["size mismatch", headerBytes('{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', 8), /expected/],
    ["overlap", headerBytes('{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', 12), /overlap/],
    ["bad shape", headerBytes('{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', 4), /bad shape/],
  ];
  it.each(bad)("rejects a file with %s", (_label, bytes, message) => {
    expect(() => parseHeader(bytes, bytes.length)).toThrow(message);
    const path = join(dir, "bad.safetensors");
    writeFileSync(path, bytes);
    expect(() => SafetensorsFile.open(path)).toThrow(SafetensorsError);
  });
});

describe("safetensors fuzzing", () => {
  // Random headers, random header lengths and truncations of a valid file: the parser either accepts the file or
  // throws a SafetensorsError with a message; it never throws anything else and never hangs.
  const valid = encodeSafetensors({ a: float32([2, 3], [1, 2, 3, 4, 5, 6]), b: tensor("float16", [4], Uint16Array.from([1, 2, 3, 4])) });

  function outcome(bytes: Uint8Array): "ok" | "error" {
    try {
      const h = parseHeader(bytes, bytes.length);
      for (const info of h.tensors.values()) expect(info.offset + info.byteLength).toBeLessThanOrEqual(bytes.length);
      return "ok";
    } catch (e) {
      expect(e).toBeInstanceOf(SafetensorsError);
      expect((e as Error).message.length).toBeGreaterThan(10);
      return "error";
    }
  }

  it("truncating a valid file anywhere gives a clear error", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: valid.length - 1 }), (n) => outcome(valid.subarray(0, n)) === "error"));
  });

  it("random bytes and random JSON headers never crash the parser", () => {
    const jsonHeader = fc.dictionary(
      fc.string({ maxLength: 8 }),
      fc.record({
        dtype: fc.constantFrom("F32", "F16", "BF16", "I64", "U8", "F8_E4M3", "??", 3),
        shape: fc.array(fc.integer({ min: -2, max: 6 }), { maxLength: 3 }),
        data_offsets: fc.array(fc.integer({ min: -4, max: 80 }), { minLength: 0, maxLength: 3 }),
      }, { requiredKeys: [] }),
    );
    fc.assert(
      fc.property(jsonHeader, fc.integer({ min: 0, max: 96 }), (header, dataBytes) => {
        const json = Buffer.from(JSON.stringify(header));
        const bytes = Buffer.alloc(8 + json.length + dataBytes);
        bytes.writeBigUInt64LE(BigInt(json.length), 0);
        json.copy(bytes, 8);
        outcome(bytes);
      }),
      { numRuns: 3000 },
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => { outcome(bytes); }), { numRuns: 3000 });
  });
});
