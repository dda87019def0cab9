// Runtime adapter: the only module importing onnxruntime-node.
export { assertDevice, DEVICES, listSupportedBackends, type Backend, type Device } from "./backends.js";
export { createSession, openSessionCount, type Session } from "./session.js";
export { probeDevice } from "./probe.js";
export { resolveOptions, type OptimizationLevel, type SessionOptions } from "./session-options.js";
export { cacheRoot, materialize, modelDir, modelHash, removeSidecars, writeSidecars } from "./model-cache.js";
