export { ClipTokenizer } from "./clip-tokenizer.js";
export { cleanText, fixText } from "./clean-text.js";
