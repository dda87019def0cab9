// The float16 variants of our graphs (graph/halve.ts, session option precision "float16") on ONNX Runtime's CPU
// provider, which runs float16 graphs by casting around nodes that lack float16 kernels: the tiny golden CLIP text
// encoders, the SD1 and SDXL UNets and VAE decoders against the float32 session and against the goldens.
//
// Tolerance: |a − b| ≤ 5e-3 · max(1, max|reference|) per tensor. Derivation: float16 keeps 11 significant bits, so
// each stored value and each op result carries a relative rounding error of up to u = 2⁻¹¹ ≈ 4.9e-4. The weights and
// inputs alone are rounded once (≤ u); the tiny models then chain 10–30 rounded ops between input and output (residual
// adds keep the scale of the activations), and independent rounding errors grow like √n · u ≈ 2.7e-3 for n = 30 in
// the largest element, with sums (MatMul/Conv accumulate in float32 on CPU and GPU) adding no more than one rounding.
// 5e-3 of the output scale is that bound with about 2× headroom over what we measured (largest: 2.1e-3 of the scale,
// clip-g-tiny last_hidden_state). The CPU provider computes most ops in float32 between float16 tensors (Casts around
// ops without a float16 kernel), so this checks the graph and the float16 rounding of weights and activations, not a
// GPU's float16 arithmetic inside kernels.
// The goldens are float32 references; the text README suggests a relative-L2 bound of 2e-2 for float16 against them,
// which the per-element bound above implies here, and we check that as well.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadComponentFolder, type Component } from "../../src/checkpoint/model.js";
import { loadModel } from "../../src/checkpoint/load.js";
import { SafetensorsFile } from "../../src/checkpoint/safetensors.js";
import { safetensorsWeights } from "../../src/checkpoint/weights.js";
import { inferDtypes } from "../../src/graph/halve.js";
import { ONNX_DTYPE, type BuiltGraph } from "../../src/graph/index.js";
import type { NodeData, TensorProtoData, ValueInfo } from "../../src/graph/onnx-proto.js";
import { buildClipTextGraph, parseClipTextConfig } from "../../src/models/clip-text.js";
import { buildUNetGraph, unetConfigFromJson, UNET_INPUTS, UNET_OUTPUT } from "../../src/models/unet.js";
import { buildVAEDecoderGraph, vaeConfigFromJson, VAE_DECODER_INPUT, VAE_DECODER_OUTPUT } from "../../src/models/vae.js";
import { createSession, type Session } from "../../src/runtime/index.js";
import { optionsKey, resolveOptions } from "../../src/runtime/session-options.js";
import { toFloat32, type DType, type Tensor } from "../../src/tensor/tensor.js";
import { expectClose, goldenJson, goldenPath, goldenTensor } from "../helpers/golden.js";

const SCALED = 5e-3;
/** The text README's suggested starting point for float16 against its float32 goldens. */
const REL_L2 = 2e-2;

beforeAll(() => {
  process.env["VELLUM_CACHE_DIR"] ??= mkdtempSync(join(tmpdir(), "vellum-cache-"));
});

const files: SafetensorsFile[] = [];
afterAll(() => files.forEach((f) => f.close()));

/** Runs `built` once in float32 and once in float16 (both on CPU), releasing both sessions. */
async function runBoth(built: BuiltGraph, feeds: Record<string, Tensor>): Promise<{ f32: Record<string, Tensor>; f16: Record<string, Tensor> }> {
  const run = async (precision: "float32" | "float16"): Promise<Record<string, Tensor>> => {
    // level "disabled" for float16: at "basic" and above, ONNX Runtime's CPU provider removes the Cast pairs it puts
    // around ops that have no float16 kernel (measured: outputs then equal the float32 session's bit for bit whenever
    // the weights are exact in float16), which would hide the activations' float16 rounding a GPU has
    const session: Session = await createSession(built, { precision, ...(precision === "float16" && { optimizationLevel: "disabled" as const }) });
    try {
      return await session.run(feeds);
    } finally {
      await session.release();
    }
  };
  return { f32: await run("float32"), f16: await run("float16") };
}

/** float16 output vs the float32 session and vs the golden, at the tolerance derived above; logs the measured gaps. */
function check(label: string, f16: Tensor | undefined, f32: Tensor | undefined, golden: Tensor): void {
  expect(f16, `${label}: float16 output`).toBeDefined();
  expect(f16!.dtype, `${label}: callers read float32`).toBe("float32");
  const vsF32 = expectClose(f16!, f32!, { scaled: SCALED, label: `${label} float16 vs float32 session` });
  const vsGolden = expectClose(f16!, golden, { scaled: SCALED, label: `${label} float16 vs golden` });
  expect(vsGolden.relL2, `${label}: relative L2 vs golden`).toBeLessThan(REL_L2);
  const scale = maxAbs(golden);
  console.log(
    `${label}: max|ref| ${scale.toExponential(2)}; vs float32 session maxAbs ${vsF32.maxAbs.toExponential(2)} relL2 ${vsF32.relL2.toExponential(2)}; ` +
      `vs golden maxAbs ${vsGolden.maxAbs.toExponential(2)} relL2 ${vsGolden.relL2.toExponential(2)}`,
  );
}

function maxAbs(t: Tensor): number {
  let m = 0;
  for (const v of toFloat32(t).data) m = Math.max(m, Math.abs(v));
  return m;
}

function component(folder: string): Component {
  const c = loadComponentFolder(goldenPath("diffusion", folder), files);
  if (c === undefined) throw new Error(`no component at ${folder}`);
  return c;
}

describe("session option precision", () => {
  it("defaults to float32 on CPU and float16 on GPU providers, and keys the session cache", () => {
    expect(resolveOptions({}).precision).toBe("float32");
    expect(resolveOptions({ device: "cuda" }).precision).toBe("float16");
    expect(resolveOptions({ device: "webgpu" }).precision).toBe("float16");
    expect(resolveOptions({ device: "cuda", precision: "float32" }).precision).toBe("float32");
    expect(optionsKey(resolveOptions({ precision: "float16" }))).not.toBe(optionsKey(resolveOptions({})));
  });
});

describe.each([
  ["clip-l-tiny", "clip-l-tiny.outputs.safetensors"],
  ["clip-g-tiny", "clip-g-tiny.outputs.safetensors"],
] as const)("float16 CLIP text encoder %s", (model, outputs) => {
  it("matches the float32 session and transformers' outputs", async () => {
    const config = parseClipTextConfig(goldenJson("text", "models", model, "config.json"));
    const file = SafetensorsFile.open(goldenPath("text", "models", model, "model.safetensors"));
    files.push(file);
    const built = buildClipTextGraph(config, safetensorsWeights(file));
    const { f32, f16 } = await runBoth(built, { input_ids: goldenTensor(["text", outputs], "input_ids") });
    const pairs: [string, string][] = [
      ["hidden_states", "hidden_states"],
      ["last_hidden_state", "last_hidden_state"],
      ["pooler_output", "pooler_output"],
    ];
    if (model === "clip-g-tiny") pairs.push(["text_embeds", "text_embeds"]);
    for (const [ours, theirs] of pairs) check(`${model} ${ours}`, f16[ours], f32[ours], goldenTensor(["text", outputs], theirs));
  });
});

describe.each([
  ["sd1", "models/unet_sd1", "diffusion/models/unet_sd1_io.safetensors"],
  ["sdxl", "models/unet_sdxl", "diffusion/models/unet_sdxl_io.safetensors"],
] as const)("float16 UNet %s", (name, folder, io) => {
  it("matches the float32 session and diffusers' noise_pred", async () => {
    const c = component(folder);
    const config = unetConfigFromJson(c.config);
    const textTime = config.addition !== undefined;
    const feeds: Record<string, Tensor> = {
      [UNET_INPUTS.sample]: goldenTensor(io, "sample"),
      [UNET_INPUTS.timestep]: goldenTensor(io, "timesteps"),
      [UNET_INPUTS.encoderHiddenStates]: goldenTensor(io, "encoder_hidden_states"),
      ...(textTime && {
        [UNET_INPUTS.textEmbeds]: goldenTensor(io, "text_embeds"),
        [UNET_INPUTS.timeIds]: goldenTensor(io, "time_ids"),
      }),
    };
    const { f32, f16 } = await runBoth(buildUNetGraph(config, c.weights), feeds);
    check(`unet ${name} noise_pred`, f16[UNET_OUTPUT], f32[UNET_OUTPUT], goldenTensor(io, "noise_pred"));
  });
});

describe.each(["sd1", "sdxl"] as const)("float16 VAE decoder %s", (name) => {
  it("matches the float32 session and diffusers' decoded", async () => {
    const io = `diffusion/models/vae_${name}_io.safetensors`;
    const c = component(`models/vae_${name}`);
    const built = buildVAEDecoderGraph(vaeConfigFromJson(c.config), c.weights, { applyScaling: true });
    const { f32, f16 } = await runBoth(built, { [VAE_DECODER_INPUT]: goldenTensor(io, "latents") });
    check(`vae ${name} decoded`, f16[VAE_DECODER_OUTPUT], f32[VAE_DECODER_OUTPUT], goldenTensor(io, "decoded"));
  });
});

// --- structure of the halved models, read back from their ONNX bytes ---

/** Protobuf fields of one message: number → raw values (varints as numbers, length-delimited as bytes). */
function fields(buf: Uint8Array): Map<number, (number | Uint8Array)[]> {
  const out = new Map<number, (number | Uint8Array)[]>();
  let pos = 0;
  const varint = (): number => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const b = buf[pos++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const [field, wire] = [Math.floor(key / 8), key % 8];
    let value: number | Uint8Array;
    if (wire === 0) value = varint();
    else if (wire === 2) {
      const len = varint();
      value = buf.subarray(pos, pos + len);
      pos += len;
    } else if (wire === 5) {
      value = 0;
      pos += 4;
    } else throw new Error(`wire type ${wire}`);
    out.set(field, [...(out.get(field) ?? []), value]);
  }
  return out;
}

const text = (b: number | Uint8Array | undefined): string => new TextDecoder().decode(b as Uint8Array);
const DTYPE_OF = new Map<number, DType>(Object.entries(ONNX_DTYPE).map(([k, v]) => [v, k as DType]));

interface DecodedGraph {
  nodes: NodeData[];
  initializers: TensorProtoData[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
}

/** The parts of a ModelProto these checks need: nodes (Cast `to`, tensor attrs' types), initializers, inputs, outputs. */
function decodeModel(bytes: Uint8Array): DecodedGraph {
  const graph = fields(fields(bytes).get(7)![0] as Uint8Array);
  const tensorOf = (b: Uint8Array): TensorProtoData => {
    const f = fields(b);
    const t: TensorProtoData = { name: text(f.get(8)?.[0] ?? new Uint8Array()), dtype: DTYPE_OF.get(f.get(2)![0] as number)!, dims: [] };
    return f.has(14) ? { ...t, external: { location: "", offset: 0, length: 0 } } : t;
  };
  const nodes = (graph.get(1) ?? []).map((b) => {
    const f = fields(b as Uint8Array);
    const attrs: NodeData["attrs"] = Object.fromEntries(
      (f.get(5) ?? []).map((a) => {
        const af = fields(a as Uint8Array);
        const value = af.has(5) ? { type: "tensor" as const, value: tensorOf(af.get(5)![0] as Uint8Array) } : { type: "int" as const, value: (af.get(3)?.[0] as number) ?? 0 };
        return [text(af.get(1)![0]), value];
      }),
    );
    return { name: text(f.get(3)?.[0]), opType: text(f.get(4)![0]), domain: text(f.get(7)?.[0] ?? new Uint8Array()), inputs: (f.get(1) ?? []).map(text), outputs: (f.get(2) ?? []).map(text), attrs };
  });
  const valueInfo = (b: number | Uint8Array): ValueInfo => {
    const f = fields(b as Uint8Array);
    const tensorType = fields(fields(f.get(2)![0] as Uint8Array).get(1)![0] as Uint8Array);
    return { name: text(f.get(1)![0]), dtype: DTYPE_OF.get(tensorType.get(1)![0] as number)! };
  };
  return { nodes, initializers: (graph.get(5) ?? []).map((b) => tensorOf(b as Uint8Array)), inputs: (graph.get(11) ?? []).map(valueInfo), outputs: (graph.get(12) ?? []).map(valueInfo) };
}

/**
 * Where float32 values remain inside a halved graph, by the rules of halve.ts: graph inputs, Cast inputs, the output
 * Casts, Resize `scales`, and the sinusoidal embeddings (nodes from which a Sin or Cos is reached, and those). Returns
 * every float32 value outside those rules (expected: none) and the counts seen.
 */
function strayFloat32(g: DecodedGraph): { stray: string[]; island: number; halfInits: number; float32Inits: number } {
  const types = inferDtypes(g.nodes, g.initializers, g.inputs);
  const consumers = new Map<string, NodeData[]>();
  for (const n of g.nodes) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const island = new Set<NodeData>();
  const reachesSinCos = (n: NodeData, seen = new Set<NodeData>()): boolean => {
    if (n.opType === "Sin" || n.opType === "Cos") return true;
    if (seen.has(n)) return false;
    seen.add(n);
    return n.outputs.some((o) => types.get(o) === "float32" && (consumers.get(o) ?? []).some((c) => reachesSinCos(c, seen)));
  };
  for (const n of g.nodes) if (reachesSinCos(n)) island.add(n);
  const outputs = new Set(g.outputs.map((o) => o.name));
  const stray: string[] = [];
  for (const n of g.nodes) {
    if (island.has(n)) continue;
    if (n.opType === "Cast" && n.outputs.every((o) => outputs.has(o))) continue; // the output casts
    n.inputs.forEach((i, k) => {
      if (i === "" || types.get(i) !== "float32") return;
      if (n.opType === "Cast" || n.opType === "Shape" || (n.opType === "Resize" && k === 2)) return;
      stray.push(`${n.name} (${n.opType}) input ${i}`);
    });
    for (const o of n.outputs) if (types.get(o) === "float32") stray.push(`${n.name} (${n.opType}) output ${o}`);
  }
  const halfInits = g.initializers.filter((t) => t.dtype === "float16").length;
  const float32Inits = g.initializers.filter((t) => t.dtype === "float32").length;
  return { stray, island: island.size, halfInits, float32Inits };
}

describe("halved graph structure", () => {
  it("leaves no float32 tensor inside the UNets, CLIP and VAE decoder except edges, Resize scales and the time sinusoids", () => {
    const clipConfig = parseClipTextConfig(goldenJson("text", "models", "clip-g-tiny", "config.json"));
    const clipFile = SafetensorsFile.open(goldenPath("text", "models", "clip-g-tiny", "model.safetensors"));
    files.push(clipFile);
    const graphs: [string, BuiltGraph][] = [["clip-g-tiny", buildClipTextGraph(clipConfig, safetensorsWeights(clipFile))]];
    for (const name of ["sd1", "sdxl"]) {
      const unet = component(`models/unet_${name}`);
      graphs.push([`unet ${name}`, buildUNetGraph(unetConfigFromJson(unet.config), unet.weights)]);
      const vae = component(`models/vae_${name}`);
      graphs.push([`vae ${name}`, buildVAEDecoderGraph(vaeConfigFromJson(vae.config), vae.weights)]);
    }
    for (const [label, built] of graphs) {
      // the check itself sees the float32 graph's tensors
      expect(strayFloat32(decodeModel(built.bytes)).stray.length, `${label}: float32 graph`).toBeGreaterThan(10);
      const g = decodeModel(built.halved!().bytes);
      const { stray, island, float32Inits } = strayFloat32(g);
      expect(stray, label).toEqual([]);
      // the golden components store float32 weights: each is Cast to float16 in the graph, so it stays a float32
      // initializer feeding a Cast; no raw constant is left float32 outside Resize scales and the time sinusoids
      expect(float32Inits, label).toBeGreaterThan(0);
      expect(g.inputs.filter((i) => i.dtype === "float32").length + g.outputs.filter((o) => o.dtype === "float32").length, `${label}: float32 edges`).toBeGreaterThan(0);
      if (label.startsWith("unet")) expect(island, `${label}: time sinusoids kept float32`).toBeGreaterThan(0);
      else expect(island, label).toBe(0);
    }
  });
});

describe("float16 checkpoint (single_file/tiny_sdxl_fp16.safetensors)", () => {
  it("uses the float16 UNet weights as stored (no Cast) and matches the float32 session of the same weights", async () => {
    const { model } = loadModel(goldenPath("diffusion/single_file/tiny_sdxl_fp16.safetensors"));
    files.push(...model.files);
    const built = buildUNetGraph(unetConfigFromJson(model.unet!.config), model.unet!.weights);
    const g = decodeModel(built.halved!().bytes);
    const { stray, halfInits } = strayFloat32(g);
    expect(stray).toEqual([]);
    const external16 = new Set(g.initializers.filter((t) => t.dtype === "float16" && t.external !== undefined).map((t) => t.name));
    expect(external16.size).toBeGreaterThan(0);
    expect(halfInits).toBeGreaterThanOrEqual(external16.size);
    expect(g.nodes.filter((n) => n.opType === "Cast" && n.inputs.some((i) => external16.has(i)))).toEqual([]);
    expect(g.initializers.filter((t) => t.dtype === "float32" && t.external !== undefined)).toEqual([]);

    const io = "diffusion/models/unet_sdxl_io.safetensors";
    const feeds: Record<string, Tensor> = {
      [UNET_INPUTS.sample]: goldenTensor(io, "sample"),
      [UNET_INPUTS.timestep]: goldenTensor(io, "timesteps"),
      [UNET_INPUTS.encoderHiddenStates]: goldenTensor(io, "encoder_hidden_states"),
      [UNET_INPUTS.textEmbeds]: goldenTensor(io, "text_embeds"),
      [UNET_INPUTS.timeIds]: goldenTensor(io, "time_ids"),
    };
    const { f32, f16 } = await runBoth(built, feeds);
    // the float32 reference here is the same float16 weights widened, so only the activations' rounding differs
    const d = expectClose(f16[UNET_OUTPUT]!, f32[UNET_OUTPUT]!, { scaled: SCALED, label: "fp16 checkpoint noise_pred, float16 vs float32 session" });
    console.log(`fp16 checkpoint unet noise_pred: float16 vs float32 session maxAbs ${d.maxAbs.toExponential(2)} relL2 ${d.relL2.toExponential(2)}`);
  });
});
