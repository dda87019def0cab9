export { FolderCatalog, localAir, type CatalogOptions, type CatalogFileEntry, type SkippedFile } from "./catalog.js";
export { civitaiToClipSkip, maxClipSkip } from "./clip-skip.js";
export { DEMO_AIR, DEMO_CONFIGS, ensureDemoModel } from "./demo.js";
export { writeRandomCheckpoint, type RandomCheckpointOptions } from "./random-checkpoint.js";
export type * from "./types.js";
export { catalogEntryForPath } from "./entry-for-path.js";
