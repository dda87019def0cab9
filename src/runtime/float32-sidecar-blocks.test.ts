// The sidecar writer's block path: sidecars larger than its two 16 MiB blocks, tensors straddling block edges,
// alignment gaps, and the same bytes whether the file is written with direct I/O or through the page cache.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Float32Sidecar, SidecarTensor } from "../graph/index.js";
import { SafetensorsFile, writeSafetensors } from "../checkpoint/safetensors.js";
import { bfloat16ToFloat, halfToFloat, tensor } from "../tensor/tensor.js";
import { writeSidecar } from "./float32-sidecar.js";

const dir = mkdtempSync(join(tmpdir(), "vellum-sidecar-blocks-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Random 16-bit patterns, finite values only (exponent bits not all ones). */
function bits(n: number, seed: number, dtype: SidecarTensor["dtype"]): Uint16Array {
  const out = new Uint16Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const b = s >>> 16;
    out[i] = dtype === "float16" ? b & 0xbfff : b & 0xbf7f; // clear the top exponent bit: never inf/nan
  }
  return out;
}

// sizes chosen so the float32 copies straddle both 16 MiB block edges, with a 64-byte alignment gap after the odd one
const SPEC: [string, SidecarTensor["dtype"], number][] = [
  ["a", "float16", 3_000_001],
  ["b", "bfloat16", 2_500_000],
  ["c", "float16", 5_000_003],
];

function fixture() {
  const path = join(dir, "big.safetensors");
  const data = SPEC.map(([, dtype, n], i) => bits(n, i + 1, dtype));
  writeSafetensors(path, Object.fromEntries(SPEC.map(([name, dtype, n], i) => [name, tensor(dtype, [n], data[i]!)])));
  const file = SafetensorsFile.open(path);
  let end = 0;
  const tensors = SPEC.map(([name, dtype]) => {
    const info = file.info(name);
    const targetOffset = Math.ceil(end / 64) * 64;
    end = targetOffset + info.byteLength * 2;
    return { dtype, offset: info.offset, byteLength: info.byteLength, targetOffset };
  });
  file.close();
  const car: Float32Sidecar = { location: "big.f32", source: path, byteLength: end, tensors };
  return { car, data };
}

function expectWidened(bytes: Buffer, car: Float32Sidecar, data: Uint16Array[]): void {
  expect(bytes.length).toBe(car.byteLength);
  const all = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  let covered = 0;
  car.tensors.forEach((t, i) => {
    // the gap before this tensor is zero
    expect(all.subarray(covered, t.targetOffset).every((b) => b === 0)).toBe(true);
    const got = new Float32Array(bytes.buffer.slice(bytes.byteOffset + t.targetOffset, bytes.byteOffset + t.targetOffset + t.byteLength * 2));
    const toFloat = t.dtype === "float16" ? halfToFloat : bfloat16ToFloat;
    const src = data[i]!;
    let bad = -1;
    for (let k = 0; k < src.length; k++) {
      if (!Object.is(got[k], toFloat(src[k]!))) {
        bad = k;
        break;
      }
    }
    expect(bad, `${t.dtype} tensor ${i}: first differing value`).toBe(-1);
    covered = t.targetOffset + t.byteLength * 2;
  });
}

describe("writeSidecar across blocks", () => {
  const { car, data } = fixture();

  it("spans more than two blocks", () => {
    expect(car.byteLength).toBeGreaterThan(2 * 16 * 2 ** 20);
    expect(car.tensors[1]!.targetOffset % 4096).not.toBe(0);
  });

  it("writes every value widened exactly, with direct I/O", async () => {
    const target = join(dir, "direct.f32");
    await writeSidecar(car, target);
    expectWidened(readFileSync(target), car, data);
  });

  it("writes the same bytes through the page cache (VELLUM_DIRECT_IO=0)", async () => {
    const target = join(dir, "buffered.f32");
    process.env["VELLUM_DIRECT_IO"] = "0";
    try {
      await writeSidecar(car, target);
    } finally {
      delete process.env["VELLUM_DIRECT_IO"];
    }
    expect(readFileSync(target).equals(readFileSync(join(dir, "direct.f32")))).toBe(true);
  });
});
