// Images on local disk under <dataDir>/images as <uuid>.<ext>; random v4 UUIDs make the URLs unguessable.
// Expiry times live in memory (restart → files get the default retention from their modification time).
import { randomUUID } from "node:crypto";
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { UUID_RE } from "../runware/params.js";

export type ImageExt = "png" | "jpg" | "webp";

export const MIME_BY_EXT: Record<ImageExt, string> = { png: "image/png", jpg: "image/jpeg", webp: "image/webp" };

export function extForMime(mime: string): ImageExt {
  return mime === "image/png" ? "png" : mime === "image/webp" ? "webp" : "jpg";
}

interface StoredImage {
  readonly uuid: string;
  readonly ext: ImageExt;
  expiresAtMs: number;
}

export interface ImageStoreConfig {
  readonly dir: string;
  readonly defaultTtlSeconds: number;
  readonly now?: () => number;
}

export class ImageStore {
  private readonly images = new Map<string, StoredImage>();
  private readonly now: () => number;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly config: ImageStoreConfig) {
    this.now = config.now ?? Date.now;
    mkdirSync(config.dir, { recursive: true });
    for (const name of readdirSync(config.dir)) {
      const m = /^(.{36})\.(png|jpg|webp)$/.exec(name);
      if (m === null || !UUID_RE.test(m[1]!)) continue;
      const mtime = statSync(join(config.dir, name)).mtimeMs;
      this.images.set(m[1]!.toLowerCase(), { uuid: m[1]!.toLowerCase(), ext: m[2] as ImageExt, expiresAtMs: mtime + config.defaultTtlSeconds * 1000 });
    }
  }

  /** Stores bytes under a new UUID. */
  async put(bytes: Uint8Array, ext: ImageExt, ttlSeconds?: number): Promise<{ uuid: string; fileName: string }> {
    const uuid = randomUUID();
    await writeFile(join(this.config.dir, `${uuid}.${ext}`), bytes, { mode: 0o600 });
    this.images.set(uuid, { uuid, ext, expiresAtMs: this.now() + (ttlSeconds ?? this.config.defaultTtlSeconds) * 1000 });
    return { uuid, fileName: `${uuid}.${ext}` };
  }

  /** Looks an image up by UUID (and extension when given); expired or unknown → undefined. */
  async get(uuid: string, ext?: string): Promise<{ bytes: Buffer; ext: ImageExt; mime: string } | undefined> {
    const img = this.images.get(uuid.toLowerCase());
    if (img === undefined || (ext !== undefined && ext !== img.ext)) return undefined;
    if (img.expiresAtMs <= this.now()) {
      await this.delete(img);
      return undefined;
    }
    try {
      const bytes = await readFile(join(this.config.dir, `${img.uuid}.${img.ext}`));
      return { bytes, ext: img.ext, mime: MIME_BY_EXT[img.ext] };
    } catch {
      this.images.delete(img.uuid);
      return undefined;
    }
  }

  private async delete(img: StoredImage): Promise<void> {
    this.images.delete(img.uuid);
    await rm(join(this.config.dir, `${img.uuid}.${img.ext}`), { force: true });
  }

  /** Deletes expired images now and then every `intervalMs`. */
  startSweeping(intervalMs = 60_000): void {
    const sweep = () => {
      const now = this.now();
      for (const img of [...this.images.values()]) if (img.expiresAtMs <= now) void this.delete(img);
    };
    sweep();
    this.sweeper = setInterval(sweep, intervalMs);
    this.sweeper.unref();
  }

  stop(): void {
    clearInterval(this.sweeper);
  }
}
