// A stand-in for vellum's server in the browser test: serves web/ at /, PNGs at /image/<uuid>.png, and speaks the
// public WebSocket protocol (authentication, ping, modelSearch, imageInference with progress frames).
// It validates like the real API where the page can trip it (bad key, short prompt, clipSkip range).
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { extname, join, normalize } from "node:path";
import { crc32 } from "node:zlib";
import sharp from "sharp";
import { WebSocketServer, type WebSocket } from "ws";

/**
 * How result and progress items look: "brief" = nested `progress` + `clipSkip` per image (issue 8);
 * "server" = `imageInferenceProgress` items + `clipSkipApplied` (what src/api emits today); "bare" = neither.
 */
export type MockDialect = "brief" | "server" | "bare";

export interface MockBackend {
  readonly url: string;
  readonly apiKey: string;
  /** Every task the page sent, in order (auth and ping included). */
  readonly received: Record<string, unknown>[];
  dialect: MockDialect;
  close(): Promise<void>;
}

export const STATIC_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

const CHECKPOINTS = [
  { air: "vellum:tiny-sd1@1", name: "Tiny SD1 anime", version: "1", category: "checkpoint", architecture: "sd1x", type: "base",
    defaultWidth: 128, defaultHeight: 128, defaultSteps: 4, defaultCFG: 7, recommendedClipSkip: 1, maxClipSkip: 10, civitaiClipSkip: 2 },
  { air: "vellum:tiny-sdxl@1", name: "Tiny SDXL", version: "1", category: "checkpoint", architecture: "sdxl", type: "base",
    recommendedClipSkip: 0, maxClipSkip: 10 },
];
const LORAS = [{ air: "vellum:tiny-lora@1", name: "Tiny style LoRA", version: "1", category: "lora", architecture: "sd1x", defaultWeight: 0.8 }];

/** A PNG `tEXt` chunk, inserted after IHDR the way A1111 stores `parameters`. */
function withTextChunk(png: Buffer, keyword: string, text: string): Buffer {
  const body = Buffer.concat([Buffer.from(keyword, "latin1"), Buffer.from([0]), Buffer.from(text, "latin1")]);
  const type = Buffer.from("tEXt", "latin1");
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([type, body])));
  const ihdrEnd = 8 + 4 + 4 + 13 + 4; // signature + IHDR length, type, data, crc
  return Buffer.concat([png.subarray(0, ihdrEnd), len, type, body, crc, png.subarray(ihdrEnd)]);
}

/** A distinct picture per (seed, clipSkip, index): a gradient whose hue depends on them. */
async function makePng(widthPx: number, heightPx: number, seed: number, clipSkip: number, index: number, parameters: string): Promise<Buffer> {
  const px = Buffer.alloc(widthPx * heightPx * 3);
  const r0 = (seed * 37 + index * 91) % 256;
  const g0 = (clipSkip * 80 + 30) % 256;
  for (let y = 0; y < heightPx; y++) {
    for (let x = 0; x < widthPx; x++) {
      const o = (y * widthPx + x) * 3;
      px[o] = (r0 + x) % 256;
      px[o + 1] = (g0 + y) % 256;
      px[o + 2] = (clipSkip * 60 + ((x ^ y) & 63)) % 256;
    }
  }
  const png = await sharp(px, { raw: { width: widthPx, height: heightPx, channels: 3 } }).png().toBuffer();
  return withTextChunk(png, "parameters", parameters);
}

type Task = Record<string, unknown>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function taskError(task: Task, code: string, parameter: string, message: string, extra: Record<string, unknown> = {}) {
  return { errors: [{ code, message, parameter, type: "integer", taskType: task.taskType, taskUUID: task.taskUUID, ...extra }] };
}

export async function startMockBackend(options: { webDir: string; apiKey?: string }): Promise<MockBackend> {
  const apiKey = options.apiKey ?? "test-key";
  const images = new Map<string, Buffer>();
  const received: Task[] = [];
  let baseUrl = "";

  const serveHttp = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0]!;
    const image = /^\/image\/([0-9a-f-]{36})\.png$/.exec(path);
    if (image !== null && images.has(image[1]!)) {
      res.writeHead(200, { "content-type": "image/png" }).end(images.get(image[1]!));
      return;
    }
    const file = normalize(path === "/" ? "/index.html" : path);
    const type = STATIC_TYPES[extname(file)];
    if (type === undefined || file.includes("..")) {
      res.writeHead(404).end();
      return;
    }
    try {
      res.writeHead(200, { "content-type": type, "cache-control": "no-store" }).end(await readFile(join(options.webDir, file)));
    } catch {
      res.writeHead(404).end();
    }
  };

  async function imageInference(ws: WebSocket, task: Task) {
    const send = (frame: unknown) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(frame));
    const prompt = typeof task.positivePrompt === "string" ? task.positivePrompt : "";
    if (prompt.length < 2 || prompt.length > 3000) {
      return send(taskError(task, "invalidPositivePrompt", "positivePrompt", "Invalid value for positivePrompt parameter. The prompt must be between 2 and 3000 characters.", { type: "string", min: 2, max: 3000 }));
    }
    const model = CHECKPOINTS.find((m) => m.air === task.model);
    if (model === undefined) return send(taskError(task, "unknownModel", "model", `Unknown model ${String(task.model)}.`, { type: "string" }));
    const sweep = Array.isArray(task.clipSkip) ? (task.clipSkip as number[]) : undefined;
    const clipSkips = sweep ?? [typeof task.clipSkip === "number" ? task.clipSkip : model.recommendedClipSkip];
    if (clipSkips.some((c) => !Number.isInteger(c) || c < 0 || c > model.maxClipSkip)) {
      return send(taskError(task, "invalidClipSkip", "clipSkip", `Invalid value for clipSkip parameter. ClipSkip must be an integer between 0 and ${model.maxClipSkip}.`, { min: 0, max: model.maxClipSkip }));
    }
    const count = sweep?.length ?? (typeof task.numberResults === "number" ? task.numberResults : 1);
    const steps = typeof task.steps === "number" ? task.steps : 4;
    const baseSeed = typeof task.seed === "number" ? task.seed : Math.floor(Math.random() * 2 ** 31);
    const dialect = backend.dialect;
    for (let i = 0; i < count; i++) {
      for (let step = 1; step <= steps; step++) {
        await sleep(15);
        if (dialect === "brief") send({ data: [{ taskType: "imageInference", taskUUID: task.taskUUID, status: "processing", progress: { step, total: steps, imageIndex: i }, futureField: 1 }] });
        if (dialect === "server") send({ data: [{ taskType: "imageInferenceProgress", taskUUID: task.taskUUID, step, total: steps, imageIndex: i }] });
      }
      const clipSkip = sweep?.[i] ?? clipSkips[0]!;
      const seed = sweep === undefined ? baseSeed + i : baseSeed;
      const parameters = `${prompt}\nSteps: ${steps}, Seed: ${seed}, Clip skip: ${clipSkip + 1}, Model: ${model.name}`;
      const png = await makePng(Number(task.width ?? 128), Number(task.height ?? 128), seed, clipSkip, i, parameters);
      const imageUUID = randomUUID();
      images.set(imageUUID, png);
      const item: Task = { taskType: "imageInference", taskUUID: task.taskUUID, imageUUID, imageURL: `${baseUrl}/image/${imageUUID}.png`, seed };
      if (dialect === "brief") item.clipSkip = clipSkip;
      if (dialect === "server") item.clipSkipApplied = { clipSkip, layers: { clipL: 12 - clipSkip } };
      send({ data: [item] });
    }
  }

  const onTask = (ws: WebSocket, state: { isAuthed: boolean }, task: Task) => {
    received.push(task);
    const send = (frame: unknown) => ws.send(JSON.stringify(frame));
    if (task.taskType === "ping") return send({ data: [{ taskType: "ping", pong: true }] });
    if (task.taskType === "authentication") {
      if (task.apiKey !== apiKey) {
        const e = { code: "invalidApiKey", message: "Invalid API key.", parameter: "apiKey", type: "string", taskType: "authentication" };
        return send({ errors: [e], error: e });
      }
      state.isAuthed = true;
      return send({ data: [{ taskType: "authentication", connectionSessionUUID: randomUUID() }] });
    }
    if (!state.isAuthed) return send(taskError(task, "missingApiKey", "apiKey", "Authenticate first.", { type: "string" }));
    if (task.taskType === "modelSearch") {
      const results = task.category === "lora" ? LORAS : task.category === "checkpoint" ? CHECKPOINTS : [...CHECKPOINTS, ...LORAS];
      return send({ data: [{ taskType: "modelSearch", taskUUID: task.taskUUID, totalResults: results.length, results }] });
    }
    if (task.taskType === "imageInference") return void imageInference(ws, task);
    send(taskError(task, "unsupportedTaskType", "taskType", `Task type ${String(task.taskType)} is not supported.`, { type: "string" }));
  };

  const server = createServer((req, res) => void serveHttp(req, res));
  const wss = new WebSocketServer({ server });
  wss.on("connection", (ws) => {
    const state = { isAuthed: false };
    ws.on("message", (data) => {
      const frame = JSON.parse(data.toString()) as unknown;
      for (const task of Array.isArray(frame) ? frame : [frame]) onTask(ws, state, task as Task);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  baseUrl = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`;

  const backend: MockBackend = {
    url: baseUrl,
    apiKey,
    received,
    dialect: "brief",
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  return backend;
}
