// Which attention kernel graphs use. "mha" = ONNX Runtime's com.microsoft MultiHeadAttention contrib op: on CPU
// it runs a flash-attention kernel (blocked softmax, never materialising the [B, N, Lq, Lk] scores) when there is
// no mask; with a mask it still fuses scale, softmax and both matmuls. "unfused" = plain ONNX ops (MatMul, Softmax,
// MatMul), for runtimes without contrib ops and for measuring. Read at graph build time; the model hash covers
// the result, so switching never reuses a session built the other way. docs/performance.md has the numbers.
export type AttentionKernel = "mha" | "unfused";

const KERNELS: readonly AttentionKernel[] = ["mha", "unfused"];

/**
 * Whether graphs may use com.microsoft contrib ops (MultiHeadAttention, Gelu): yes unless VELLUM_ATTENTION=unfused,
 * which thereby means "standard ONNX ops only".
 */
export function contribOpsAllowed(): boolean {
  return defaultAttentionKernel() === "mha";
}

/** `VELLUM_ATTENTION` (mha | unfused), default "mha". */
export function defaultAttentionKernel(): AttentionKernel {
  const v = process.env["VELLUM_ATTENTION"];
  if (v === undefined || v === "") return "mha";
  if (!(KERNELS as readonly string[]).includes(v)) throw new Error(`VELLUM_ATTENTION must be one of ${KERNELS.join(", ")}, got ${v}`);
  return v as AttentionKernel;
}
