// The worker-thread side of the worker generator: owns a model pool and the pipeline generator, so that model loading
// (ONNX Runtime builds sessions synchronously: seconds for a full-size UNet) and every denoising loop run off the
// server's event loop. Messages are defined in worker-generator.ts.
import { parentPort, workerData } from "node:worker_threads";
import { createPipelineGenerator } from "./pipeline-generator.js";
import type { ModelPoolConfig } from "./model-pool.js";
import { toJobError } from "./types.js";
import type { FromWorker, ToWorker } from "./worker-generator.js";

const port = parentPort!;
const generator = createPipelineGenerator((workerData ?? {}) as ModelPoolConfig);
const running = new Map<number, AbortController>();
const send = (m: FromWorker) => port.postMessage(m);

async function run(id: number, request: Extract<ToWorker, { type: "generate" }>["request"]): Promise<void> {
  const ctl = new AbortController();
  running.set(id, ctl);
  try {
    const ctx = { signal: ctl.signal, onProgress: (p: { step: number; total: number; imageIndex: number }) => send({ type: "progress", id, progress: p }) };
    for await (const image of generator.generate(request, ctx)) send({ type: "image", id, image });
    send({ type: "done", id, held: generator.heldModels() });
  } catch (err) {
    send({ type: "error", id, error: toJobError(err), held: generator.heldModels() });
  } finally {
    running.delete(id);
  }
}

port.on("message", (m: ToWorker) => {
  switch (m.type) {
    case "generate":
      void run(m.id, m.request);
      return;
    case "cancel":
      running.get(m.id)?.abort(Object.assign(new Error(m.message), { code: m.code }));
      return;
    case "stats":
      send({ type: "stats", id: m.id, stats: generator.pool.stats() });
      return;
    case "close":
      void generator.close().then(() => send({ type: "closed", id: m.id }));
      return;
  }
});
