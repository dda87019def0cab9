export { openLora, looksLikeLora, splitLoraKey, type LoRAFile, type LoRAModule } from "./read.js";
export { TargetTable, type Target, type ComponentName } from "./names.js";
export { mergeLoras, OverlayWeights, MAX_LORA_WEIGHT, type LoRAApplication, type MergeReport } from "./merge.js";
export { loraTrainingInfo, familyFromBaseModel, type LoRATrainingInfo } from "./metadata.js";
