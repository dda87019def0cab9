// Debian programs some suites need (redis-server for the BullMQ suites, chromium for the browser test). `.ci/run`
// installs them, and under CI a missing one fails the run; on a developer's machine without them those suites are
// skipped with a message saying what to install, so `npm test` still runs everything else.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

function available(label: string, found: boolean, install: string): boolean {
  if (found) return true;
  if (process.env["CI"]) throw new Error(`${label} is missing on this CI machine (.ci/run installs it: ${install})`);
  console.warn(`[tests] skipped the suites that need ${label}: ${install}`);
  return false;
}

export const CHROMIUM_PATH = "/usr/bin/chromium";

export const hasChromium = available(CHROMIUM_PATH, existsSync(CHROMIUM_PATH), "apt-get install -y chromium");

export const hasRedisServer = available("redis-server", spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0, "apt-get install -y redis-server");
