// Execution providers: which ones this onnxruntime-node install can run, and a clear error when one is missing.
// `cpu` and `webgpu` ship inside the npm package; `cuda` / `tensorrt` are downloaded by its install script.
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import ort from "onnxruntime-node";

export type Device = "cpu" | "webgpu" | "cuda";

export const DEVICES: readonly Device[] = ["cpu", "webgpu", "cuda"];

export interface Backend {
  readonly name: string;
  /** Shipped inside the npm package (true) or fetched by its install script (false). */
  readonly bundled: boolean;
  /** The provider's library is present, so a session can ask for it. */
  readonly installed: boolean;
}

/** Folders of the native binding (bin/napi-v*\/<platform>/<arch>) where provider libraries sit. */
function bindingDirs(): string[] {
  const bin = join(dirname(createRequire(import.meta.url).resolve("onnxruntime-node")), "..", "bin");
  if (!existsSync(bin)) return [];
  return readdirSync(bin).map((napi) => join(bin, napi, process.platform, process.arch));
}

function providerInstalled(name: string): boolean {
  const file = process.platform === "win32" ? `onnxruntime_providers_${name}.dll` : `libonnxruntime_providers_${name}.so`;
  return bindingDirs().some((d) => existsSync(join(d, file)));
}

/** The backends onnxruntime-node knows, with whether each can run here. */
export function listSupportedBackends(): Backend[] {
  return ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled, installed: b.bundled || providerInstalled(b.name) }));
}

/** Throws with install advice when `device` cannot run with this install. */
export function assertDevice(device: Device): void {
  const backend = listSupportedBackends().find((b) => b.name === device);
  if (backend?.installed === true) return;
  if (device === "cuda") {
    throw new Error(
      "runtime: the CUDA execution provider is not installed (onnxruntime-node ships only cpu and webgpu). " +
        "On a Linux x64 machine with CUDA 12 and internet access run: " +
        "`ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node` (or `npm install onnxruntime-node --onnxruntime-node-install=cuda12`), " +
        "or use --device cpu.",
    );
  }
  throw new Error(`runtime: device ${device} is not available in this onnxruntime-node build (have: ${listSupportedBackends().filter((b) => b.installed).map((b) => b.name).join(", ")})`);
}
