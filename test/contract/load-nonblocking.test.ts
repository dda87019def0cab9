// A model load never blocks the server: while the worker thread is stuck in a synchronous load, /health, modelSearch
// (REST and WebSocket), a new WebSocket connection's authentication and ping are all answered; the load then finishes
// and the image arrives.
//
// The load is held at a gate the test opens, so nothing here depends on how long anything takes. The gated model is
// the tiny golden SD1 folder whose scheduler/scheduler_config.json is a FIFO: the model pool reads it with
// readFileSync (loadModel → loadDiffusersFolder), a synchronous read that blocks the thread doing the load until the
// test writes the config — the same way ONNX Runtime's session creation (synchronous native code, later in the same
// ModelPool.load) blocks it. The test knows the load has reached the gate when it can open the FIFO for writing
// without blocking (a reader is waiting). While it holds the gate:
//   - a stats() request to the worker stays unanswered (the loading thread really is blocked, as in a native load);
//   - every probe to the server is answered (the server's event loop is not that thread).
// After the gate opens, that stats() answer — produced after every probe was answered — still shows the pipeline
// loading (the worker's content-hash cache is empty, so the rest of the load has asynchronous file reads, between
// which the worker answers), and the image arrives.
//
// Why a main-thread load fails this test: this process is the server. A load on the server's own thread would block
// it inside the FIFO read, so the test could never see the gate waiting (its polling timer could not run) and no probe
// could be answered. A dead-man thread opens the gate after DEAD_MAN_MS so such a run ends with failed assertions
// instead of hanging; the test fails if the dead-man ever had to open it.
import { randomUUID } from "node:crypto";
import { execFileSync } from "node:child_process";
import { closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CatalogEntry } from "../../src/catalog/types.js";
import { poolKey } from "../../src/jobs/model-pool.js";
import type { WorkerGenerator } from "../../src/jobs/worker-generator.js";
import { goldenJson } from "../helpers/golden.js";
import { goldenModelDir } from "../helpers/model-fixtures.js";
import { connectRaw, errs, items } from "./helpers/raw-ws.js";
import { API_KEY, startTestServer, tinyCatalog, wsUrl, type TestServer } from "./helpers/test-server.js";

const GATED_AIR = "vellum:tiny-sd1-gated@1";
/** Only a safety net for a broken build (see above); a passing run kills the dead-man long before. */
const DEAD_MAN_MS = 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Gate {
  readonly fifo: string;
  /** The scheduler config the load reads once the gate opens. */
  readonly content: string;
  /** Written by the dead-man when it had to open the gate. */
  readonly marker: string;
}

function makeGatedModel(): { dir: string; gate: Gate } {
  const cases = goldenJson<{ cases: { scheduler_config: Record<string, unknown> }[] }>("diffusion", "pipelines/index.json").cases;
  const dir = goldenModelDir("sd1"); // unet/, vae/, text_encoder/, tokenizer/ → the golden components; no scheduler yet
  mkdirSync(join(dir, "scheduler"));
  const fifo = join(dir, "scheduler", "scheduler_config.json");
  execFileSync("mkfifo", [fifo]);
  return { dir, gate: { fifo, content: JSON.stringify(cases[0]!.scheduler_config), marker: join(dir, "dead-man-opened-the-gate") } };
}

/** A write end of the FIFO once a reader is blocked on it (ENXIO until then); undefined if `isOver()` first. */
async function waitForReader(gate: Gate, isOver: () => boolean): Promise<number | undefined> {
  for (;;) {
    try {
      return openSync(gate.fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENXIO") throw e;
    }
    if (isOver()) return undefined;
    await sleep(10);
  }
}

/** Lets a blocked reader go on: the config, then end of file. */
function openGate(gate: Gate, fd: number): void {
  writeSync(fd, gate.content);
  closeSync(fd);
}

/** Opens the gate after `ms` from its own thread, which a blocked main thread cannot stop. */
function startDeadMan(gate: Gate, ms: number): Worker {
  const code = `
    const { workerData: d } = require("node:worker_threads");
    const fs = require("node:fs");
    setTimeout(() => {
      let fd;
      try { fd = fs.openSync(d.fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK); } catch { return; }
      fs.writeFileSync(d.marker, "");
      fs.writeSync(fd, d.content);
      fs.closeSync(fd);
    }, d.ms);`;
  const w = new Worker(code, { eval: true, workerData: { ...gate, ms } });
  w.unref();
  return w;
}

let server: TestServer;
let pipelines: WorkerGenerator;
let gated: { dir: string; gate: Gate; entry: CatalogEntry; catalogSize: number };
let cacheDir: string;
const previousCacheDir = process.env["VELLUM_CACHE_DIR"];

beforeAll(async () => {
  // An empty cache: the worker (spawned below, it copies this environment) hashes checkpoints with async reads.
  cacheDir = mkdtempSync(join(tmpdir(), "vellum-load-nonblocking-cache-"));
  process.env["VELLUM_CACHE_DIR"] = cacheDir;
  const tiny = await tinyCatalog();
  const { dir, gate } = makeGatedModel();
  const entry: CatalogEntry = { ...tiny.sd1, air: GATED_AIR, name: "Tiny SD1 (load held at a gate)", path: dir };
  gated = { dir, gate, entry, catalogSize: tiny.catalog.list().length + 1 };
  server = await startTestServer({ extraEntries: [entry] }); // the real generator in its worker thread, as `vellum serve` runs it
  pipelines = server.pipelines!;
  // The worker thread starts (and imports the pipeline) before the gated request is sent.
  expect((await pipelines.stats()).loads).toBe(0);
});

afterAll(async () => {
  // A failed run may have left the worker blocked at the gate: open it, or closing would wait for the worker forever.
  if (gated !== undefined) {
    try {
      openGate(gated.gate, openSync(gated.gate.fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // no reader: nothing is blocked
    }
  }
  await server?.close(); // closes the worker generator too
  if (previousCacheDir === undefined) delete process.env["VELLUM_CACHE_DIR"];
  else process.env["VELLUM_CACHE_DIR"] = previousCacheDir;
  for (const d of [cacheDir, gated?.dir]) if (d !== undefined) rmSync(d, { recursive: true, force: true });
});

const auth = { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" };
type Body = { data?: Record<string, unknown>[]; errors?: Record<string, unknown>[] };
const post = async (tasks: unknown[]) => {
  const r = await fetch(`${server.url}/v1`, { method: "POST", headers: auth, body: JSON.stringify(tasks) });
  return { status: r.status, body: (await r.json()) as Body };
};

/** Every cheap request the server has, each over its own path; resolves once all were answered. */
async function probe(): Promise<{ health: Record<string, unknown>; restSearch: Record<string, unknown>; wsSearch: Record<string, unknown>; pong: Record<string, unknown> }> {
  const health = fetch(`${server.url}/health`).then(async (r) => ({ httpStatus: r.status, ...((await r.json()) as Record<string, unknown>) }));
  const restSearch = post([{ taskType: "modelSearch", taskUUID: randomUUID(), search: "gated" }]).then((r) => ({ httpStatus: r.status, ...r.body.data?.[0] }));
  const ws = (async () => {
    const c = await connectRaw(wsUrl(server)); // a new connection, accepted during the load
    try {
      c.send([{ taskType: "authentication", apiKey: API_KEY }]);
      const authed = await c.waitFor((f) => items(f)[0]?.taskType === "authentication" || errs(f).length > 0);
      expect(errs(authed)).toEqual([]);
      const search = { taskType: "modelSearch", taskUUID: randomUUID() };
      c.send([{ taskType: "ping", ping: true }, search]);
      const pong = items(await c.waitFor((f) => items(f)[0]?.taskType === "ping"))[0]!;
      const wsSearch = items(await c.waitFor((f) => items(f)[0]?.taskUUID === search.taskUUID))[0]!;
      return { pong, wsSearch };
    } finally {
      await c.close();
    }
  })();
  const [h, s, w] = await Promise.all([health, restSearch, ws]);
  return { health: h, restSearch: s, ...w };
}

describe("loading never blocks the server", () => {
  it("answers /health, modelSearch and WebSocket ping while the worker is stuck loading a model; then the image arrives", async () => {
    const { gate, entry, catalogSize } = gated;
    const key = poolKey({ model: entry, loras: [] });
    const deadMan = startDeadMan(gate, DEAD_MAN_MS);
    let writeEnd: number | undefined;
    try {
      let inferenceSettled = false;
      const inference = post([
        { taskType: "imageInference", taskUUID: randomUUID(), positivePrompt: "a lighthouse", model: GATED_AIR, width: 128, height: 128, steps: 1, seed: 7, outputType: "base64Data", outputFormat: "PNG" },
      ]).finally(() => (inferenceSettled = true));

      writeEnd = await waitForReader(gate, () => inferenceSettled || existsSync(gate.marker));
      expect(writeEnd, "the load never waited at the gate in a thread other than the server's (see the header)").toBeDefined();

      // The loading thread is blocked: this stats() cannot be answered before the gate opens.
      let isStatsAnswered = false;
      const statsDuringLoad = pipelines.stats().finally(() => (isStatsAnswered = true));
      statsDuringLoad.catch(() => {});

      const answers = await probe();
      expect(answers.health).toMatchObject({ httpStatus: 200, status: "ok", models: catalogSize });
      expect(answers.health["queue"]).toMatchObject({ running: 1 }); // the gated task, still in its load
      expect(answers.restSearch).toMatchObject({ httpStatus: 200, taskType: "modelSearch", totalResults: 1, results: [expect.objectContaining({ air: GATED_AIR })] });
      expect(answers.wsSearch).toMatchObject({ taskType: "modelSearch", totalResults: catalogSize });
      expect(answers.pong).toMatchObject({ taskType: "ping", pong: true });
      expect(existsSync(gate.marker), "the dead-man had to open the gate").toBe(false);
      expect(inferenceSettled).toBe(false);
      expect(isStatsAnswered, "the worker answered while it should be blocked at the gate: the gate no longer blocks the loading thread").toBe(false);

      openGate(gate, writeEnd!);
      writeEnd = undefined;
      // Asked before the gate opened, answered after every probe: the load was still in progress after them.
      const during = await statsDuringLoad;
      expect(during.pipelines.find((p) => p.key === key)).toMatchObject({ isLoading: true, users: 1 });
      expect(during.loads).toBe(0);

      const { status, body } = await inference;
      expect(status, JSON.stringify(body.errors)).toBe(200);
      const images = body.data!.filter((d) => d.taskType === "imageInference");
      expect(images).toHaveLength(1);
      expect(Buffer.from(images[0]!.imageBase64Data as string, "base64").subarray(1, 4).toString()).toBe("PNG");
      const after = await pipelines.stats();
      expect(after.pipelines.find((p) => p.key === key)).toMatchObject({ isLoading: false, users: 0 });
      expect(after.loads).toBe(1);
    } finally {
      if (writeEnd !== undefined) {
        try {
          openGate(gate, writeEnd); // a failed assertion must not leave the worker blocked
        } catch {
          // the reader is gone
        }
      }
      await deadMan.terminate();
    }
  });
});
