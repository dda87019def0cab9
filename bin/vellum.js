#!/usr/bin/env node
// The `vellum` command: runs the compiled CLI (npm install builds it through the `prepare` script).
import { main } from "../dist/cli/main.js";

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(err instanceof Error ? err.message : err); process.exitCode = 1; },
);
