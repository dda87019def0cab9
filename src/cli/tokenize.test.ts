import { spawnSync } from "node:child_process";
import { afterEach, describe, expect, it, vi } from "vitest";
import { tokenizeWeighted } from "../prompt/index.js";
import { ClipTokenizer } from "../tokenizer/index.js";
import { tokenize } from "./tokenize.js";

const tok = ClipTokenizer.bundled();

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, "log").mockImplementation((...xs: unknown[]) => void out.push(xs.join(" ")));
  vi.spyOn(console, "error").mockImplementation((...xs: unknown[]) => void err.push(xs.join(" ")));
  const code = await tokenize(args);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

afterEach(() => vi.restoreAllMocks());

describe("vellum tokenize", () => {
  it("--json prints one JSON array BOS … EOS, untruncated", async () => {
    const prompt = "cat ".repeat(100);
    const { code, out } = await run(["--json", prompt]);
    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual([tok.bosId, ...tok.encode(prompt), tok.eosId]);
    expect(JSON.parse(out)).toHaveLength(102);
  });

  it("prints ids and tokens by default, joining several words", async () => {
    const { code, out } = await run(["a", "photo"]);
    expect(code).toBe(0);
    const ids = [tok.bosId, ...tok.encode("a photo"), tok.eosId];
    expect(out.split("\n")[0]).toBe(`[${ids.join(", ")}]`);
    expect(out).toContain("photo</w>");
  });

  it("-- lets a prompt start with a dash", async () => {
    const { code, out } = await run(["--json", "--", "-1 --json"]);
    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual([tok.bosId, ...tok.encode("-1 --json"), tok.eosId]);
  });

  it("--chunks --json prints the weighted 77-id chunks", async () => {
    const prompt = "(cat:1.3) BREAK dog";
    const { out } = await run(["--chunks", "--json", prompt]);
    expect(JSON.parse(out)).toEqual(tokenizeWeighted(tok, prompt));
  });

  it("--tokenizer reads a diffusers folder", async () => {
    const dir = new URL("../../../shared/golden/text/tokenizer_2", import.meta.url).pathname;
    const { out } = await run(["--tokenizer", dir, "--json", "hi!"]);
    expect(JSON.parse(out)).toEqual([tok.bosId, ...tok.encode("hi"), 0, tok.eosId]);
  });

  it("--help prints usage; bad options and a missing text exit 2", async () => {
    expect((await run(["--help"])).out).toContain("usage: vellum tokenize");
    expect((await run(["--bogus", "x"])).code).toBe(2);
    const missing = await run([]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("missing TEXT");
  });

  it("runs as a command through the CLI entry point", () => {
    const script = "import { main } from './src/cli/main.ts'; main(process.argv.slice(1)).then((c) => { process.exitCode = c; });";
    const res = spawnSync("npx", ["tsx", "--eval", script, "tokenize", "--json", "--", "a cat"], {
      cwd: new URL("../..", import.meta.url).pathname,
      encoding: "utf-8",
    });
    expect(res.status).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual([tok.bosId, ...tok.encode("a cat"), tok.eosId]);
  });
});
