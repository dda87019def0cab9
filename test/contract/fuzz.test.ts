// Fuzzed request bodies (fast-check, in process through the REST handler and the JSON reader): the server never
// crashes and always answers with well-formed errors that carry the task's UUID when one was given.
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuthenticator } from "../../src/api/auth.js";
import { parseJson, stringifyJson } from "../../src/api/json.js";
import { handleRest } from "../../src/api/rest.js";
import type { VellumServer } from "../../src/api/server.js";
import type { Generator } from "../../src/jobs/types.js";
import { API_KEY, SD1_AIR, startTestServer } from "./helpers/test-server.js";

/** Fuzzing exercises validation and delivery, not images: a generator that yields 8 fixed bytes per result. */
const bytesGenerator: Generator = async function* (req) {
  for (let i = 0; i < req.numberResults; i++) yield { index: i, seed: req.seed + BigInt(i), bytes: new Uint8Array(8), mime: "image/png" };
};

let server: VellumServer;
beforeAll(async () => {
  server = await startTestServer({ generator: bytesGenerator, settings: { maxQueueLength: 10000 } });
});
afterAll(async () => {
  await server?.close();
});

const FIELDS = [
  "positivePrompt", "negativePrompt", "model", "width", "height", "steps", "CFGScale", "seed", "scheduler", "clipSkip",
  "numberResults", "outputType", "outputFormat", "outputQuality", "includeCost", "checkNSFW", "deliveryMethod", "seedImage",
  "maskImage", "strength", "lora", "vae", "ttl", "controlNet", "safety", "image", "search", "limit", "offset", "category",
];

const value = fc.oneof(
  fc.anything({ maxDepth: 2 }),
  fc.integer({ min: -10, max: 3000 }),
  fc.double(),
  fc.constantFrom("URL", "base64Data", "dataURI", "png", "JPG", "webp", "async", "sync", SD1_AIR, "vellum:tiny-flux@1", "vellum:tiny-vae@1", "Euler a", "data:image/png;base64,AAAA", "__BLANK__", "a cat on a mat"),
  fc.constantFrom(0, 1, 2, 64, 128, 512, 2048, 20, [0, 1], [{ model: "x:1@1", weight: 1 }]),
);

const task = fc.record(
  {
    taskType: fc.oneof(fc.constantFrom("imageInference", "imageUpload", "modelSearch", "getResponse", "authentication", "ping", "caption"), fc.anything({ maxDepth: 0 })),
    taskUUID: fc.oneof(fc.uuid(), fc.string(), fc.anything({ maxDepth: 0 })),
    fields: fc.dictionary(fc.constantFrom(...FIELDS), value, { maxKeys: 8 }),
  },
  { requiredKeys: ["taskType"] },
).map(({ taskType, taskUUID, fields }) => ({ taskType, ...(taskUUID !== undefined ? { taskUUID } : {}), ...fields }));

const frame = fc.oneof(fc.array(task, { maxLength: 4 }), task, fc.anything({ maxDepth: 3 }));

describe("fuzzed requests", () => {
  it("always produce a well-formed answer; errors carry the task's UUID", async () => {
    const auth = createAuthenticator([API_KEY], true);
    await fc.assert(
      fc.asyncProperty(frame, async (f) => {
        const r = await handleRest(f, `Bearer ${API_KEY}`, auth, server.context);
        expect(Number.isInteger(r.status)).toBe(true);
        const body = JSON.parse(stringifyJson(r.body)) as { data?: Record<string, unknown>[]; errors?: Record<string, unknown>[] };
        expect(body.data !== undefined || body.errors !== undefined).toBe(true);
        for (const e of body.errors ?? []) {
          expect(typeof e.code).toBe("string");
          expect(typeof e.message).toBe("string");
        }
        const tasks = (Array.isArray(f) ? f : [f]) as Record<string, unknown>[];
        const uuids = new Set<unknown>(tasks.filter((t) => t !== null && typeof t === "object" && t.taskType !== "ping").map((t) => t.taskUUID).filter((u) => typeof u === "string"));
        for (const e of body.errors ?? []) {
          if (e.code === "internalServerError") throw new Error(`crash on ${stringifyJson(f).slice(0, 500)}`);
          if (e.taskUUID === undefined) {
            // only allowed when the failing task carried no string taskUUID (or the frame had no task at all)
            const orphan = tasks.some((t) => t === null || typeof t !== "object" || typeof t.taskUUID !== "string" || t.taskType === "authentication");
            expect(orphan || tasks.length === 0, `error without taskUUID: ${JSON.stringify(e)}`).toBe(true);
          } else {
            expect(uuids.has(e.taskUUID)).toBe(true);
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("valid tasks among fuzzed ones still succeed", async () => {
    const auth = createAuthenticator([API_KEY], true);
    const good = { taskType: "imageInference", taskUUID: randomUUID(), positivePrompt: "ok prompt", model: SD1_AIR, width: 128, height: 128 };
    const r = await handleRest([{ taskType: "nonsense" }, good, 42], `Bearer ${API_KEY}`, auth, server.context);
    expect((r.body.data as { taskUUID: string }[]).map((d) => d.taskUUID)).toEqual([good.taskUUID]);
  });

  it("the JSON reader only ever throws SyntaxError", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.json().map((j) => j.replace(/:(\d)/g, ':"seed":1$1'))), (s: string) => {
        try {
          parseJson(s);
        } catch (e) {
          expect(e).toBeInstanceOf(SyntaxError);
        }
      }),
      { numRuns: 5000 },
    );
  });
});
