import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ImageStore } from "./image-store.js";

describe("ImageStore", () => {
  it("serves an image stored by another node sharing the folder, until its ttl", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vellum-images-"));
    let now = Date.now();
    const a = new ImageStore({ dir, defaultTtlSeconds: 3600, now: () => now });
    const b = new ImageStore({ dir, defaultTtlSeconds: 3600, now: () => now });
    const { uuid } = await a.put(Uint8Array.from([1, 2, 3]), "png", 120);
    expect([...(await b.get(uuid, "png"))!.bytes]).toEqual([1, 2, 3]);
    expect((await b.get(uuid))!.mime).toBe("image/png");
    expect(await b.get(uuid, "jpg")).toBeUndefined();
    // A third node started later still knows the expiry (it is the file's modification time).
    now += 119_000;
    const c = new ImageStore({ dir, defaultTtlSeconds: 3600, now: () => now });
    expect(await c.get(uuid)).toBeDefined();
    now += 2_000;
    expect(await c.get(uuid)).toBeUndefined();
    expect(readdirSync(dir)).toEqual([]);
  });

  it("never resolves names that are not UUIDs", async () => {
    const store = new ImageStore({ dir: mkdtempSync(join(tmpdir(), "vellum-images-")), defaultTtlSeconds: 60 });
    for (const name of ["../etc/passwd", "x", "00000000-0000-4000-8000-00000000000/"]) expect(await store.get(name)).toBeUndefined();
  });
});
