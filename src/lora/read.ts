// Reads a LoRA .safetensors into modules (down, up, alpha) keyed by the file's own module stem, whatever the
// naming: kohya (`lora_unet_…​.lora_down.weight`, `.alpha`), PEFT (`.lora_A.weight` / `.lora_B.weight`),
// old diffusers (`.lora.down.weight`, `_lora.down.weight`, `.lora_linear_layer.down.weight`). Tensors are read
// when merged, not here.
import { SafetensorsFile } from "../checkpoint/safetensors.js";

export interface LoRAModule {
  readonly stem: string;
  readonly downKey: string;
  readonly upKey: string;
  readonly alphaKey?: string;
  /** LoCon CP-decomposed conv (`lora_mid`): recognised, not merged. */
  readonly midKey?: string;
}

export interface LoRAFile {
  readonly path: string;
  readonly file: SafetensorsFile;
  readonly modules: readonly LoRAModule[];
  /** Keys that belong to no recognised module (LoHa/LoKr parts, stray tensors). */
  readonly unrecognizedKeys: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
}

const SUFFIXES: readonly [string, "down" | "up" | "alpha" | "mid"][] = [
  [".lora_down.weight", "down"],
  [".lora_up.weight", "up"],
  [".lora_mid.weight", "mid"],
  [".lora_A.weight", "down"],
  [".lora_B.weight", "up"],
  [".lora.down.weight", "down"],
  [".lora.up.weight", "up"],
  [".lora_linear_layer.down.weight", "down"],
  [".lora_linear_layer.up.weight", "up"],
  ["_lora.down.weight", "down"],
  ["_lora.up.weight", "up"],
  [".alpha", "alpha"],
];

export function splitLoraKey(key: string): { stem: string; part: "down" | "up" | "alpha" | "mid" } | undefined {
  for (const [suffix, part] of SUFFIXES) if (key.endsWith(suffix)) return { stem: key.slice(0, -suffix.length), part };
  return undefined;
}

/** True when a header looks like a LoRA (used by the catalog to classify files). */
export function looksLikeLora(keys: readonly string[]): boolean {
  return keys.length > 0 && keys.filter((k) => splitLoraKey(k) !== undefined).length >= keys.length / 2;
}

export function openLora(path: string): LoRAFile {
  const file = SafetensorsFile.open(path);
  const parts = new Map<string, Partial<Record<"down" | "up" | "alpha" | "mid", string>>>();
  const unrecognizedKeys: string[] = [];
  for (const key of file.names()) {
    const s = splitLoraKey(key);
    if (s === undefined) {
      unrecognizedKeys.push(key);
      continue;
    }
    const p = parts.get(s.stem) ?? {};
    p[s.part] = key;
    parts.set(s.stem, p);
  }
  const modules: LoRAModule[] = [];
  for (const [stem, p] of parts) {
    if (p.down === undefined || p.up === undefined) {
      unrecognizedKeys.push(...Object.values(p));
      continue;
    }
    modules.push({ stem, downKey: p.down, upKey: p.up, ...(p.alpha !== undefined && { alphaKey: p.alpha }), ...(p.mid !== undefined && { midKey: p.mid }) });
  }
  return { path, file, modules, unrecognizedKeys, metadata: file.metadata };
}
