// Images on disk under <dataDir>/images as <uuid>.<ext>; random v4 UUIDs make the URLs unguessable.
// A file's expiry time is stored as its modification time, so it survives restarts and every API node sharing the
// folder (several nodes behind one load balancer, docs/scaling.md) serves every image with the right ttl.
import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
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
  }

  /** Stores bytes under a new UUID. */
  async put(bytes: Uint8Array, ext: ImageExt, ttlSeconds?: number): Promise<{ uuid: string; fileName: string }> {
    const uuid = randomUUID();
    const path = join(this.config.dir, `${uuid}.${ext}`);
    const expiresAtMs = this.now() + (ttlSeconds ?? this.config.defaultTtlSeconds) * 1000;
    await writeFile(path, bytes, { mode: 0o600 });
    await utimes(path, expiresAtMs / 1000, expiresAtMs / 1000);
    this.images.set(uuid, { uuid, ext, expiresAtMs });
    return { uuid, fileName: `${uuid}.${ext}` };
  }

  /** Looks an image up by UUID (and extension when given); expired or unknown → undefined. */
  async get(uuid: string, ext?: string): Promise<{ bytes: Buffer; ext: ImageExt; mime: string } | undefined> {
    const img = this.images.get(uuid.toLowerCase()) ?? (await this.find(uuid.toLowerCase()));
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

  /** An image another node (or an earlier run) stored in the shared folder: its expiry is the file's mtime. */
  private async find(uuid: string): Promise<StoredImage | undefined> {
    if (!UUID_RE.test(uuid)) return undefined;
    for (const ext of Object.keys(MIME_BY_EXT) as ImageExt[]) {
      try {
        const { mtimeMs } = await stat(join(this.config.dir, `${uuid}.${ext}`));
        const img = { uuid, ext, expiresAtMs: mtimeMs };
        this.images.set(uuid, img);
        return img;
      } catch {
        // not stored with this extension
      }
    }
    return undefined;
  }

  private async delete(img: StoredImage): Promise<void> {
    this.images.delete(img.uuid);
    await rm(join(this.config.dir, `${img.uuid}.${img.ext}`), { force: true });
  }

  /** Deletes expired images now and then every `intervalMs`. */
  startSweeping(intervalMs = 60_000): void {
    const sweep = async (): Promise<void> => {
      const now = this.now();
      for (const name of await readdir(this.config.dir).catch(() => [] as string[])) {
        const m = /^(.{36})\.(png|jpg|webp)$/.exec(name);
        if (m === null || !UUID_RE.test(m[1]!)) continue;
        const mtimeMs = (await stat(join(this.config.dir, name)).catch(() => undefined))?.mtimeMs;
        if (mtimeMs !== undefined && mtimeMs <= now) await this.delete({ uuid: m[1]!.toLowerCase(), ext: m[2] as ImageExt, expiresAtMs: mtimeMs });
      }
    };
    void sweep();
    this.sweeper = setInterval(() => void sweep(), intervalMs);
    this.sweeper.unref();
  }

  stop(): void {
    clearInterval(this.sweeper);
  }
}
