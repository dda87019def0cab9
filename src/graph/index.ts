// ONNX graph builder: own protobuf encoder, external-data weights, typed op helpers.
export { GraphCore, IR_VERSION, MS_DOMAIN, ONNX_FLOAT, OPSET, type Attr, type Attrs, type BuiltGraph, type ExternalFile, type OpOptions, type Value } from "./graph-core.js";
export { GraphBuilder, type AttentionOptions, type Conv2dOptions, type Operand } from "./graph-builder.js";
export { ONNX_DTYPE, type Dim, type ValueInfo } from "./onnx-proto.js";
export { widenGraph, type Float32Sidecar, type SidecarTensor } from "./widen.js";
