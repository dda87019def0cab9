export { BREAK_WEIGHT, parsePromptWeights, type WeightedText } from "./parse-prompt-weights.js";
export { tokenizeLiteral } from "./tokenize-literal.js";
export { tokenizeWeighted, type PromptChunk } from "./tokenize-weighted.js";
