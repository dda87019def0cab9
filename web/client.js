// A small client for vellum's public WebSocket API (Runware wire format): JSON arrays of tasks go out,
// {"data":[…]} / {"errors":[…]} objects come back, routed to the pending task by taskUUID.

const PING_INTERVAL_MS = 30_000;
const AUTH_TIMEOUT_MS = 15_000;

/** UUID v4; crypto.randomUUID exists only in secure contexts (https, localhost), so fall back to getRandomValues. */
export function uuid() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** ws(s)://<this host>/v1, or the `?server=` query parameter when given (for development). */
export function defaultServerUrl(loc = location) {
  const override = new URLSearchParams(loc.search).get("server");
  if (override) return override;
  return `${loc.protocol === "https:" ? "wss" : "ws"}://${loc.host}/v1`;
}

/** Seeds can exceed 2^53: keep their exact digits as a string (JSON.parse source access, Chromium ≥ 114). */
function parseFrame(text) {
  return JSON.parse(text, (key, value, context) =>
    key === "seed" && typeof value === "number" && context?.source !== undefined ? context.source : value,
  );
}

/** A progress item in either of the shapes vellum may send; undefined when `item` is not one. */
export function progressOf(item) {
  const p = item.taskType === "imageInferenceProgress" ? item : item.status === "processing" ? item.progress : undefined;
  if (p === undefined || p === null || typeof p !== "object") return undefined;
  const step = Number(p.step);
  const total = Number(p.total);
  if (!Number.isFinite(step) || !Number.isFinite(total) || total <= 0) return undefined;
  const imageIndex = Number.isInteger(p.imageIndex) ? p.imageIndex : 0;
  return { step, total, imageIndex };
}

const isImageResult = (item) =>
  typeof item.imageURL === "string" || typeof item.imageDataURI === "string" || typeof item.imageBase64Data === "string";

const closedError = (taskType) => ({
  code: "connectionClosed",
  message: "The connection closed before the task finished.",
  taskType,
});

/**
 * Opens the socket and authenticates. Resolves with a client once the server accepted the key;
 * rejects with the server's error object ({code, message, parameter, …}) otherwise.
 * `onClose(event)` fires when an authenticated connection ends.
 */
export function connect(url, apiKey, { onClose = () => {}, onStrayError = () => {} } = {}) {
  return new Promise((resolve, reject) => {
    let socket;
    try {
      socket = new WebSocket(url);
    } catch (err) {
      reject({ code: "connectionFailed", message: `Cannot open ${url}: ${err.message}` });
      return;
    }
    const pending = new Map(); // taskUUID → { onItem(item), onError(err), taskType }
    let isAuthenticated = false;
    let pingTimer;
    const authTimer = setTimeout(() => {
      reject({ code: "authTimeout", message: `No authentication reply from ${url} within ${AUTH_TIMEOUT_MS / 1000} s.` });
      socket.close();
    }, AUTH_TIMEOUT_MS);

    const client = {
      url,
      sessionUUID: undefined,
      /** Sends one task and routes every item/error carrying its taskUUID to the handlers. */
      run(task, { onItem, onError }) {
        const taskUUID = task.taskUUID ?? uuid();
        pending.set(taskUUID, { onItem, onError, taskType: task.taskType });
        socket.send(JSON.stringify([{ ...task, taskUUID }]));
        return { taskUUID, done: () => pending.delete(taskUUID) };
      },
      close() {
        socket.close(1000, "bye");
      },
      get isOpen() {
        return socket.readyState === WebSocket.OPEN;
      },
    };

    socket.addEventListener("open", () => socket.send(JSON.stringify([{ taskType: "authentication", apiKey }])));
    socket.addEventListener("message", (event) => {
      let frame;
      try {
        frame = parseFrame(String(event.data));
      } catch {
        onStrayError({ code: "invalidFrame", message: "The server sent a frame that is not JSON." });
        return;
      }
      const items = frame.data === undefined ? [] : Array.isArray(frame.data) ? frame.data : [frame.data];
      const rawErrors = frame.errors ?? frame.error;
      const errors = rawErrors === undefined ? [] : Array.isArray(rawErrors) ? rawErrors : [rawErrors];
      for (const err of errors) {
        if (!isAuthenticated && (err.taskType === "authentication" || err.taskUUID === undefined)) {
          clearTimeout(authTimer);
          reject(err);
          socket.close();
          return;
        }
        const handler = err.taskUUID === undefined ? undefined : pending.get(err.taskUUID);
        if (handler !== undefined) handler.onError(err);
        else onStrayError(err);
      }
      for (const item of items) {
        if (item === null || typeof item !== "object") continue;
        if (item.taskType === "ping") continue; // pong
        if (item.taskType === "authentication" && !isAuthenticated) {
          isAuthenticated = true;
          client.sessionUUID = item.connectionSessionUUID;
          clearTimeout(authTimer);
          pingTimer = setInterval(() => {
            if (client.isOpen) socket.send(JSON.stringify([{ taskType: "ping", ping: true }]));
          }, PING_INTERVAL_MS);
          resolve(client);
          continue;
        }
        const handler = pending.get(item.taskUUID);
        if (handler !== undefined) handler.onItem(item);
      }
    });
    socket.addEventListener("close", (event) => {
      clearTimeout(authTimer);
      clearInterval(pingTimer);
      if (!isAuthenticated) {
        reject({ code: "connectionFailed", message: `The connection to ${url} closed (code ${event.code}) before authentication.` });
        return;
      }
      for (const [taskUUID, h] of pending) h.onError({ ...closedError(h.taskType), taskUUID });
      pending.clear();
      onClose(event);
    });
  });
}

/** modelSearch → the `results` array (empty when the server has none). */
export function searchModels(client, params) {
  return new Promise((resolve, reject) => {
    const run = client.run(
      { taskType: "modelSearch", limit: 100, ...params },
      {
        onItem(item) {
          run.done();
          resolve(Array.isArray(item.results) ? item.results : []);
        },
        onError(err) {
          run.done();
          reject(err);
        },
      },
    );
  });
}

/**
 * imageInference. `expected` results are awaited; progress (both wire shapes) and each image are reported as
 * they arrive. Resolves when all images arrived; rejects with the task's error object.
 */
export function inferImages(client, task, expected, { onProgress, onImage }) {
  return new Promise((resolve, reject) => {
    let received = 0;
    const run = client.run(
      { taskType: "imageInference", ...task },
      {
        onItem(item) {
          const progress = progressOf(item);
          if (progress !== undefined) return onProgress(progress);
          if (!isImageResult(item)) return; // async ACKs, unknown items
          onImage(item, received++);
          if (received >= expected) {
            run.done();
            resolve(received);
          }
        },
        onError(err) {
          run.done();
          reject(err);
        },
      },
    );
  });
}

/** imageUpload (data URI, base64 or URL) → the stored image's `imageUUID`, usable as seedImage / maskImage. */
export function uploadImage(client, image) {
  return new Promise((resolve, reject) => {
    const run = client.run(
      { taskType: "imageUpload", image },
      {
        onItem(item) {
          if (typeof item.imageUUID !== "string") return;
          run.done();
          resolve(item.imageUUID);
        },
        onError(err) {
          run.done();
          reject(err);
        },
      },
    );
  });
}
