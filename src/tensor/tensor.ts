// The one tensor type every module shares: a flat typed array, a shape and a dtype.
// Row-major (C order). float16 / bfloat16 keep their raw 16-bit patterns in a Uint16Array.

export type DType =
  | "float32"
  | "float16"
  | "bfloat16"
  | "float64"
  | "int8"
  | "uint8"
  | "int16"
  | "int32"
  | "int64"
  | "bool";

export interface DataOf {
  float32: Float32Array;
  float16: Uint16Array;
  bfloat16: Uint16Array;
  float64: Float64Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int16: Int16Array;
  int32: Int32Array;
  int64: BigInt64Array;
  bool: Uint8Array;
}

export type TypedData = DataOf[DType];

export interface Tensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: DataOf[D];
}

export type Float32Tensor = Tensor<"float32">;

export const BYTES_PER_ELEMENT: Record<DType, number> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int8: 1,
  uint8: 1,
  int16: 2,
  int32: 4,
  int64: 8,
  bool: 1,
};

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function tensor<D extends DType>(dtype: D, shape: readonly number[], data: DataOf[D]): Tensor<D> {
  if (data.length !== numel(shape)) {
    throw new Error(`tensor: ${data.length} elements do not fill shape [${shape.join(", ")}]`);
  }
  return { dtype, shape: [...shape], data };
}

export function float32(shape: readonly number[], data?: Float32Array | readonly number[]): Float32Tensor {
  const arr = data === undefined ? new Float32Array(numel(shape)) : Float32Array.from(data);
  return tensor("float32", shape, arr);
}

/** Allocates an empty typed array of `n` elements for `dtype`. */
export function allocate<D extends DType>(dtype: D, n: number): DataOf[D] {
  const ctor = {
    float32: Float32Array,
    float16: Uint16Array,
    bfloat16: Uint16Array,
    float64: Float64Array,
    int8: Int8Array,
    uint8: Uint8Array,
    int16: Int16Array,
    int32: Int32Array,
    int64: BigInt64Array,
    bool: Uint8Array,
  }[dtype];
  return new ctor(n) as DataOf[D];
}

/** Views raw little-endian bytes as a typed array of `dtype` (copies only when unaligned). */
export function fromBytes<D extends DType>(dtype: D, shape: readonly number[], bytes: Uint8Array): Tensor<D> {
  const size = BYTES_PER_ELEMENT[dtype];
  const n = numel(shape);
  if (bytes.byteLength !== n * size) {
    throw new Error(`fromBytes: ${bytes.byteLength} bytes for ${n} × ${dtype} (${n * size} expected)`);
  }
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  const out = allocate(dtype, 0).constructor as new (b: ArrayBufferLike, o: number, l: number) => DataOf[D];
  return tensor(dtype, shape, new out(aligned.buffer, aligned.byteOffset, n));
}

export function toBytes(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** float16 bits → float32 value. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 value → float16 bits, round to nearest even (as torch's `.half()`). */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && (m & 1))) m++;
    return sign | m;
  }
  let m = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (m & 1))) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}

export function bfloat16ToFloat(b: number): number {
  u32[0] = b << 16;
  return f32[0]!;
}

/** Any numeric tensor as float32 (a new array; float32 input is returned as is). */
export function toFloat32(t: Tensor): Float32Tensor {
  switch (t.dtype) {
    case "float32":
      return t as Float32Tensor;
    case "float16": {
      const src = t.data as Uint16Array;
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = halfToFloat(src[i]!);
      return tensor("float32", t.shape, out);
    }
    case "bfloat16": {
      const src = t.data as Uint16Array;
      const out = new Float32Array(src.length);
      const outBits = new Uint32Array(out.buffer);
      for (let i = 0; i < src.length; i++) outBits[i] = src[i]! << 16;
      return tensor("float32", t.shape, out);
    }
    case "int64": {
      const src = t.data as BigInt64Array;
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = Number(src[i]!);
      return tensor("float32", t.shape, out);
    }
    default:
      return tensor("float32", t.shape, Float32Array.from(t.data as ArrayLike<number>));
  }
}

export function toFloat16(t: Tensor): Tensor<"float16"> {
  const src = toFloat32(t).data;
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = floatToHalf(src[i]!);
  return tensor("float16", t.shape, out);
}

export function reshape<D extends DType>(t: Tensor<D>, shape: readonly number[]): Tensor<D> {
  return tensor(t.dtype, shape, t.data);
}
