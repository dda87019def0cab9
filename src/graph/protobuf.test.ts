import { describe, expect, it } from "vitest";
import { ProtoWriter } from "./protobuf.js";

const bytes = (w: ProtoWriter) => [...w.finish()];

describe("ProtoWriter", () => {
  it("writes varints as the protobuf encoding guide does (1, 150, 300)", () => {
    expect(bytes(new ProtoWriter().varint(1))).toEqual([0x01]);
    expect(bytes(new ProtoWriter().int(1, 150))).toEqual([0x08, 0x96, 0x01]);
    expect(bytes(new ProtoWriter().varint(300))).toEqual([0xac, 0x02]);
  });

  it("writes negative int64 as ten-byte two's complement", () => {
    expect(bytes(new ProtoWriter().varint(-1))).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  });

  it("writes large integers beyond 2^32", () => {
    // 2^35 = 7 bits × 5 zero groups + a 1 in the sixth group
    expect(bytes(new ProtoWriter().varint(2 ** 35))).toEqual([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
  });

  it("writes length-delimited strings and packed ints", () => {
    expect(bytes(new ProtoWriter().string(2, "testing"))).toEqual([0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6e, 0x67]);
    expect(bytes(new ProtoWriter().packedInts(4, [3, 270, 86942]))).toEqual([0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05]);
  });

  it("writes floats little-endian with wire type 5", () => {
    expect(bytes(new ProtoWriter().float(2, 1))).toEqual([0x15, 0x00, 0x00, 0x80, 0x3f]);
  });

  it("grows past its initial buffer", () => {
    const big = new Uint8Array(10_000).fill(7);
    const out = new ProtoWriter().bytes(9, big).finish();
    expect(out.length).toBe(1 + 2 + 10_000);
    expect(out[3]).toBe(7);
  });
});
