// Runtime adapter: the only module importing onnxruntime-node.
export { createSession, openSessionCount, type Session, type SessionOptions } from "./session.js";
export { cacheRoot, materialize, modelHash } from "./model-cache.js";
