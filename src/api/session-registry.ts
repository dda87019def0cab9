// WebSocket sessions (connectionSessionUUID): frames sent while the client is away are kept for `bufferMs`
// and delivered when it re-authenticates with the same connectionSessionUUID and key. A session not resumed in time
// expires: its buffer is dropped and the work it still tracks (running synchronous tasks) is cancelled.
import { randomUUID } from "node:crypto";

export interface FrameSocket {
  readonly isOpen: boolean;
  send(text: string): void;
}

const MAX_BUFFERED_FRAMES = 1000;

export class Session {
  private socket: FrameSocket | undefined;
  private readonly buffer: string[] = [];
  private expiry: NodeJS.Timeout | undefined;
  private readonly work = new Set<() => void>();
  private isExpired = false;

  constructor(
    readonly id: string,
    readonly owner: string,
    private readonly onExpire: (s: Session) => void,
  ) {}

  /** Sends now, or keeps the frame until the client is back. */
  send(text: string): void {
    if (this.isExpired) return;
    if (this.socket?.isOpen === true) {
      try {
        this.socket.send(text);
        return;
      } catch {
        // fall through: keep it for a resume
      }
    }
    if (this.buffer.length < MAX_BUFFERED_FRAMES) this.buffer.push(text);
  }

  attach(socket: FrameSocket): void {
    clearTimeout(this.expiry);
    this.expiry = undefined;
    this.socket = socket;
    for (const text of this.buffer.splice(0)) this.send(text);
  }

  detach(socket: FrameSocket, bufferMs: number): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    this.expiry = setTimeout(() => this.onExpire(this), bufferMs);
    this.expiry.unref();
  }

  /** Registers work to cancel if the session expires; call the returned function once the work is finished. */
  track(cancel: () => void): () => void {
    const entry = () => cancel();
    this.work.add(entry);
    return () => {
      this.work.delete(entry);
    };
  }

  /** Work still tracked (running synchronous tasks), for tests and logs. */
  get trackedWork(): number {
    return this.work.size;
  }

  /** Called when the resume window passed: nothing is delivered any more, tracked work is cancelled. */
  expire(): void {
    this.isExpired = true;
    this.buffer.length = 0;
    for (const cancel of [...this.work]) {
      this.work.delete(cancel);
      try {
        cancel();
      } catch {
        // one task's cancel must not keep the others running
      }
    }
  }

  get bufferedFrames(): number {
    return this.buffer.length;
  }

  dispose(): void {
    clearTimeout(this.expiry);
  }
}

export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();

  constructor(readonly bufferMs: number) {}

  /** Resumes `connectionSessionUUID` when it exists, belongs to `owner` and is not attached elsewhere; else a new session. */
  open(owner: string, connectionSessionUUID: unknown): Session {
    if (typeof connectionSessionUUID === "string") {
      const s = this.sessions.get(connectionSessionUUID);
      if (s !== undefined && s.owner === owner) return s;
    }
    const s = new Session(randomUUID(), owner, (expired) => {
      this.sessions.delete(expired.id);
      expired.expire();
    });
    this.sessions.set(s.id, s);
    return s;
  }

  close(): void {
    for (const s of this.sessions.values()) s.dispose();
    this.sessions.clear();
  }
}
