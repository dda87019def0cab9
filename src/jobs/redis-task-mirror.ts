// Task records shared between API nodes, so `getResponse` answers on any node: the node that accepted a task writes
// its record to Redis (with the retention as TTL) when it starts and when it finishes, and publishes it; every node
// keeps the published records in memory for synchronous lookups and loads the stored ones on (re)connect.
import type { Redis } from "ioredis";
import { openRedis, redisKeys } from "./redis-connection.js";

/** The record fields the mirror relies on (the API's TaskRecord). */
export interface MirroredRecord {
  readonly taskUUID: string;
}

export interface TaskRecordMirror<R extends MirroredRecord> {
  /** Stores and broadcasts the record's current state, kept for `ttlMs`. */
  publish(record: R, ttlMs: number): void;
  /** A record another node published (or this one), if still retained. */
  lookup(taskUUID: string): R | undefined;
  forget(taskUUID: string): void;
  ready(): Promise<void>;
  close(): void;
}

const TAG = "$vellumBigint";
const toJson = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? { [TAG]: x.toString() } : x));
const fromJson = (text: string): unknown =>
  JSON.parse(text, (_k, x: unknown) => (x !== null && typeof x === "object" && typeof (x as Record<string, unknown>)[TAG] === "string" ? BigInt((x as Record<string, string>)[TAG]!) : x));

export function createRedisTaskMirror<R extends MirroredRecord>(redisUrl: string): TaskRecordMirror<R> {
  const commands: Redis = openRedis(redisUrl, "api");
  const subscriber: Redis = openRedis(redisUrl, "blocking");
  commands.on("error", () => {});
  subscriber.on("error", () => {});
  const known = new Map<string, { record: R; expiresAt: number }>();

  const remember = (text: string, ttlMs: number) => {
    const record = fromJson(text) as R;
    known.set(record.taskUUID, { record, expiresAt: Date.now() + ttlMs });
  };
  const loadAll = async () => {
    let cursor = "0";
    do {
      const [next, keys] = await commands.scan(cursor, "MATCH", redisKeys.task("*"), "COUNT", 500);
      cursor = next;
      for (const key of keys) {
        const [text, ttl] = await Promise.all([commands.get(key), commands.pttl(key)]);
        if (text !== null && ttl > 0) remember(text, ttl);
      }
    } while (cursor !== "0");
  };
  subscriber.on("message", (_channel: string, message: string) => {
    const { ttlMs, text } = JSON.parse(message) as { ttlMs: number; text: string };
    remember(text, ttlMs);
  });
  const subscribed = subscriber.subscribe(redisKeys.taskChannel);
  subscriber.on("ready", () => void loadAll().catch(() => {}));
  const loaded = subscribed.then(loadAll);
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [k, v] of known) if (v.expiresAt <= now) known.delete(k);
  }, 10_000);
  sweep.unref();

  return {
    publish(record, ttlMs) {
      const text = toJson(record);
      remember(text, ttlMs);
      void commands
        .multi()
        .set(redisKeys.task(record.taskUUID), text, "PX", ttlMs)
        .publish(redisKeys.taskChannel, JSON.stringify({ ttlMs, text }))
        .exec()
        .catch(() => {});
    },
    lookup(taskUUID) {
      const hit = known.get(taskUUID);
      return hit !== undefined && hit.expiresAt > Date.now() ? hit.record : undefined;
    },
    forget(taskUUID) {
      known.delete(taskUUID);
      void commands.del(redisKeys.task(taskUUID)).catch(() => {});
    },
    ready: async () => {
      await loaded;
    },
    close() {
      clearInterval(sweep);
      commands.disconnect();
      subscriber.disconnect();
    },
  };
}
