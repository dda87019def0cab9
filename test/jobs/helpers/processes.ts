// Child processes for cluster tests: `node --import tsx <fixture>` with its stdout split into JSON lines.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export interface Proc {
  readonly child: ChildProcess;
  readonly lines: Record<string, unknown>[];
  waitFor(pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  kill(signal: NodeJS.Signals): Promise<void>;
}

export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
}

export function startProc(script: string, env: Record<string, string>, args: string[] = []): Proc {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let buffered = "";
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  child.stdout!.on("data", (d: Buffer) => {
    buffered += d.toString();
    const parts = buffered.split("\n");
    buffered = parts.pop()!;
    for (const p of parts) {
      try {
        lines.push(JSON.parse(p) as Record<string, unknown>);
      } catch {
        lines.push({ text: p });
      }
    }
    for (const w of [...waiters]) w();
  });
  child.once("exit", (code, signal) => {
    lines.push({ exited: true, code, signal, stderr });
    for (const w of [...waiters]) w();
  });
  return {
    child,
    lines,
    waitFor: (pred, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const exit = lines.find((l) => l.exited === true);
          if (exit !== undefined && lines.find(pred) === undefined) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(new Error(`${script} exited (${String(exit.code ?? exit.signal)}): ${String(exit.stderr)}`));
            return;
          }
          const hit = lines.find(pred);
          if (hit === undefined) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(hit);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${script}: no matching line within ${timeoutMs} ms; stdout ${JSON.stringify(lines).slice(-1500)} stderr ${stderr}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    kill: (signal) =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill(signal);
      }),
  };
}
