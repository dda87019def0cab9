// Runs a vellum command in-process with its output captured (nothing printed), and checks its exit code; on a wrong
// code the failure shows what the command wrote to stderr.
import { expect, vi } from "vitest";
import { generate } from "../../src/cli/generate.js";

export type CliCommand = (args: string[]) => Promise<number>;

export async function runCli(command: CliCommand, args: string[], expectCode = 0): Promise<{ stdout: string[]; stderr: string[] }> {
  const log = vi.spyOn(console, "log").mockImplementation(() => {});
  const err = vi.spyOn(console, "error").mockImplementation(() => {});
  const bar = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    const code = await command(args);
    const stderr = err.mock.calls.map((c) => c.join(" "));
    expect(code, stderr.join("\n")).toBe(expectCode);
    return { stdout: log.mock.calls.map((c) => c.join(" ")), stderr };
  } finally {
    log.mockRestore();
    err.mockRestore();
    bar.mockRestore();
  }
}

/** `vellum generate ARGS`, expected to succeed. */
export async function runGenerate(args: string[]): Promise<void> {
  await runCli(generate, args);
}
