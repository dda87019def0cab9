// The WebSocket transport: any path and query; frames are JSON arrays of tasks; answers are {"data":[…]} / {"errors":[…]}.
// The first task must be `authentication` (optionally resuming a connectionSessionUUID); ping → pong at once.
import type { IncomingMessage } from "node:http";
import type { WebSocket } from "ws";
import type { Authenticator } from "./auth.js";
import type { ApiContext, TaskSink } from "./context.js";
import { ApiError, invalidApiKeyError, type WireError } from "./errors.js";
import { dispatchTask } from "./dispatcher.js";
import { parseJson, stringifyJson } from "./json.js";
import type { Session, SessionRegistry } from "./session-registry.js";
import type { ResultItem } from "./task-registry.js";

export interface WsDeps {
  readonly ctx: ApiContext;
  readonly auth: Authenticator;
  readonly sessions: SessionRegistry;
}

function sessionSink(session: Session): TaskSink {
  return {
    data: (items: ResultItem[]) => session.send(stringifyJson({ data: items })),
    error: (error: WireError) => session.send(stringifyJson({ errors: [error] })),
    track: (cancel) => session.track(cancel),
  };
}

export function handleConnection(socket: WebSocket, req: IncomingMessage, deps: WsDeps): void {
  const { ctx, auth, sessions } = deps;
  let session: Session | undefined;
  /** Tasks sent before any authentication (auth disabled): no session can resume them, so they end with the socket. */
  const unsessioned = new Set<() => void>();
  const frameSocket = {
    get isOpen() {
      return socket.readyState === socket.OPEN;
    },
    send: (text: string) => socket.send(text),
  };
  const direct = (frame: unknown) => {
    if (socket.readyState === socket.OPEN) socket.send(stringifyJson(frame));
  };
  ctx.logger.debug("ws connected", { path: req.url?.split("?")[0], sdk: req.headers["x-sdk-name"], sdkVersion: req.headers["x-sdk-version"] });

  const authenticate = (task: Record<string, unknown>) => {
    const owner = auth.check(task.apiKey);
    if (owner === undefined) {
      const e = invalidApiKeyError();
      direct({ errors: [e], error: e });
      return;
    }
    if (session !== undefined) session.detach(frameSocket, sessions.bufferMs);
    session = sessions.open(owner, task.connectionSessionUUID);
    direct({ data: [{ taskType: "authentication", connectionSessionUUID: session.id }] });
    session.attach(frameSocket);
  };

  socket.on("message", (data, isBinary) => {
    let frame: unknown;
    try {
      frame = parseJson(isBinary ? Buffer.from(data as Buffer).toString("utf-8") : data.toString());
    } catch {
      direct({ errors: [new ApiError("invalidJson", "The message is not valid JSON. Send a JSON array of task objects.").toWire()] });
      return;
    }
    const tasks = Array.isArray(frame) ? frame : [frame];
    for (const task of tasks) {
      const t = task as Record<string, unknown> | null;
      if (t !== null && typeof t === "object" && t.taskType === "ping") {
        direct({ data: [{ taskType: "ping", pong: true }] });
      } else if (t !== null && typeof t === "object" && t.taskType === "authentication") {
        authenticate(t);
      } else {
        const sink: TaskSink =
          session !== undefined
            ? sessionSink(session)
            : {
                data: (items) => direct({ data: items }),
                error: (e) => direct({ errors: [e] }),
                track: (cancel) => {
                  unsessioned.add(cancel);
                  return () => unsessioned.delete(cancel);
                },
              };
        const owner = session?.owner ?? (auth.isRequired ? undefined : "local");
        void dispatchTask(task, owner === undefined ? undefined : { owner }, sink, ctx);
      }
    }
  });
  socket.on("close", () => {
    session?.detach(frameSocket, sessions.bufferMs);
    for (const cancel of [...unsessioned]) cancel();
    unsessioned.clear();
  });
  socket.on("error", (err) => ctx.logger.debug("ws error", { error: err.message }));
}
