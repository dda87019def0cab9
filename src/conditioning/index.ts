// Prompt → text embeddings with clipSkip, weights and chunks.
export { ClipSkipError, chooseLayers, maxClipSkip, usesPenultimate, type EncoderName, type LayerChoice } from "./clip-skip.js";
export { applyEmphasis } from "./emphasis.js";
export {
  compactsTextEncoders,
  createConditioner,
  encodePrompts,
  encodePromptsForClipSkips,
  type Conditioner,
  type ClipSkipRule,
  type ConditionerOptions,
  type EncodeRequest,
  type PromptEmbeddings,
} from "./conditioner.js";
