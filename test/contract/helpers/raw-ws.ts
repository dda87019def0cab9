// A raw `ws` client that records every frame, for protocol-level tests.
import WebSocket from "ws";

export interface RawClient {
  readonly frames: Record<string, unknown>[];
  send(tasks: unknown): void;
  /** Resolves with the first recorded frame (from `from` on) matching `pred`. */
  waitFor(pred: (f: Record<string, unknown>) => boolean, from?: number, timeoutMs?: number): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function connectRaw(url: string): Promise<RawClient> {
  const ws = new WebSocket(`${url}/v1?sdk=raw&x=1`, { perMessageDeflate: false });
  const frames: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  ws.on("message", (d) => {
    frames.push(JSON.parse(d.toString()) as Record<string, unknown>);
    for (const w of waiters) w();
  });
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  return {
    frames,
    send: (tasks) => ws.send(JSON.stringify(tasks)),
    waitFor: (pred, from = 0, timeoutMs = 10000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const hit = frames.slice(from).find(pred);
          if (hit !== undefined) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(hit);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(frames).slice(0, 2000)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    close: () =>
      new Promise((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.once("close", () => resolve());
        ws.close();
      }),
  };
}

export const items = (f: Record<string, unknown>) => (f.data as Record<string, unknown>[] | undefined) ?? [];
export const errs = (f: Record<string, unknown>) => (f.errors as Record<string, unknown>[] | undefined) ?? [];
