// The playground page in Debian's Chromium (playwright-core, no downloaded browser): connect, generate, compare
// clipSkip values, download, narrow screen. Runs against the in-test mock backend until the real server serves web/.
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMockBackend, type MockBackend } from "./mock-backend.js";

// Browser-side globals used inside page.evaluate callbacks (the tsconfig has no DOM lib).
interface PageControl {
  readonly tagName: string;
  readonly textContent: string | null;
  readonly outerHTML: string;
  readonly labels?: ArrayLike<unknown> | null;
  hasAttribute(name: string): boolean;
}
declare const document: {
  readonly documentElement: { readonly scrollWidth: number; readonly clientWidth: number };
  readonly activeElement: unknown;
  querySelectorAll(selector: string): Iterable<PageControl>;
};
declare function getComputedStyle(element: unknown): { readonly outlineStyle: string };

const CHROMIUM = "/usr/bin/chromium";
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const artifacts = resolve(root, "test-artifacts");
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`[browser] skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);

const isRealBackend = process.env.VELLUM_BROWSER_BACKEND === "real";

interface PlaygroundBackend {
  /** Where the page is loaded from (with `?server=` when the WebSocket lives elsewhere). */
  readonly pageUrl: string;
  readonly apiKey: string;
  /** Set when the mock answers: recorded frames and reply dialects can be checked. */
  readonly mock: MockBackend | undefined;
  close(): Promise<void>;
}

/**
 * The one place that picks the server. Default: the in-test mock. `VELLUM_BROWSER_BACKEND=real` drives vellum's own
 * server (src/api via test/contract's startTestServer: tiny golden SD1 catalog, test image generator); until that server
 * serves web/ at `/`, the mock's HTTP side serves the page and `?server=` points the page at vellum's WebSocket.
 * Once it does, use `pageUrl: server.url` and drop the mock. Mock-only assertions are guarded by `backend.mock`.
 */
async function startBackend(): Promise<PlaygroundBackend> {
  const mock = await startMockBackend({ webDir: resolve(root, "web") });
  if (!isRealBackend) return { pageUrl: mock.url, apiKey: mock.apiKey, mock, close: () => mock.close() };
  const { startTestServer, API_KEY } = await import("../contract/helpers/test-server.js");
  const server = await startTestServer();
  const ws = `${server.url.replace(/^http/, "ws")}/v1`;
  return {
    pageUrl: `${mock.url}/?server=${encodeURIComponent(ws)}`,
    apiKey: API_KEY,
    mock: undefined,
    close: async () => {
      await server.close();
      await mock.close();
    },
  };
}

/** Runs in the page: collects every text the result cards show (progress steps come and go too fast to poll). */
const RECORD_PROGRESS_TEXT = `
  globalThis.progressSeen = [];
  new MutationObserver((records) => {
    for (const r of records) for (const n of r.addedNodes) if (n.nodeType === 3 && n.data.startsWith("step ")) globalThis.progressSeen.push(n.data);
  }).observe(document.getElementById("results"), { childList: true, subtree: true });
`;

const inferenceTasks = (mock: MockBackend) => mock.received.filter((t) => t.taskType === "imageInference");

/** Decoded RGB pixels of every image in the newest result set (fetched from the server, not from the DOM). */
async function newestImages(page: Page): Promise<{ labels: string[]; pixels: Buffer[]; srcs: string[] }> {
  const cards = page.locator(".cards").first().locator("figure");
  const labels = await cards.locator(".label").allTextContents();
  const srcs = await cards.locator("img").evaluateAll((imgs) => imgs.map((i) => i.getAttribute("src") ?? ""));
  const absolute = srcs.map((src) => new URL(src, page.url()).href);
  const pixels = await Promise.all(
    absolute.map(async (src) => sharp(Buffer.from(await (await page.request.get(src)).body())).raw().toBuffer()),
  );
  return { labels, pixels, srcs: absolute };
}

describe.skipIf(!hasChromium)("playground page", () => {
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    backend = await startBackend();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page = await context.newPage();
    page.on("pageerror", (err) => console.error("[page error]", err.message));
    await page.goto(backend.pageUrl);
  });

  afterAll(async () => {
    await browser?.close();
    await backend?.close();
  });

  it("labels every control", async () => {
    await expect(page.title()).resolves.toBe("vellum playground");
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll("input, select, textarea, button")]
        .filter((c) => {
          const hasLabel = (c.labels?.length ?? 0) > 0 || c.hasAttribute("aria-label") || c.hasAttribute("aria-labelledby");
          return c.tagName === "BUTTON" ? (c.textContent ?? "").trim() === "" && !hasLabel : !hasLabel;
        })
        .map((c) => c.outerHTML),
    );
    expect(unlabelled).toEqual([]);
    await expect(page.getByRole("status").textContent()).resolves.toBe("Not connected.");
  });

  it("shows the API's error for a bad key, then authenticates from the keyboard", async () => {
    await page.getByLabel("API key").fill("not-the-key");
    await page.getByLabel("API key").press("Enter");
    await page.locator(".error").filter({ hasText: "invalidApiKey" }).waitFor();
    expect(await page.locator(".error").textContent()).toContain("parameter: apiKey");
    await expect(page.getByRole("status").textContent()).resolves.toContain("Not connected: invalidApiKey");

    await page.getByLabel("API key").fill(backend.apiKey);
    await page.getByLabel("API key").press("Enter");
    await page.getByRole("status").filter({ hasText: /model.* available/ }).waitFor();
    expect(await page.locator(".error").count()).toBe(0);
    expect(await page.getByLabel("Model", { exact: true }).locator("option").count()).toBeGreaterThan(0);
    expect(await page.locator("#clipskip-hint").textContent()).toMatch(/Allowed: 0 to \d+/);
    if (backend.mock) {
      expect(await page.locator("#clipskip-hint").textContent()).toContain("Recommended for this model: 1");
      expect(await page.locator("#clipskip-hint").textContent()).toContain('"Clip skip: 2"');
      const search = backend.mock.received.filter((t) => t.taskType === "modelSearch").map((t) => t.category);
      expect(search.sort()).toEqual(["checkpoint", "lora"]);
      expect(backend.mock.received[0]).toEqual({ taskType: "authentication", apiKey: "not-the-key" });
    }
    // visible focus on keyboard navigation
    await page.getByLabel("Prompt", { exact: true }).click();
    await page.keyboard.press("Tab");
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    expect(outline).toBe("solid");
  });

  it("shows a task error with code, message and parameter", async () => {
    await page.getByLabel("Prompt", { exact: true }).fill("x");
    await page.getByRole("button", { name: "Generate" }).click();
    const error = page.locator(".error").filter({ hasText: "invalidPositivePrompt" });
    await error.waitFor();
    expect(await error.textContent()).toContain("parameter: positivePrompt");
    await expect(page.getByRole("status").textContent()).resolves.toContain("Failed: invalidPositivePrompt");
    expect(await page.locator(".cards").count()).toBe(0); // no empty cards left behind
  });

  it("generates two images with a LoRA, with progress, and downloads the PNG with its metadata", async () => {
    if (backend.mock) backend.mock.dialect = "brief";
    await page.getByLabel("Prompt", { exact: true }).fill("a red fox, watercolor");
    await page.getByLabel("Steps").fill("20");
    await page.getByLabel("Number of images").fill("2");
    await page.getByLabel("Seed").fill("42");
    const hasLoras = !(await page.getByRole("button", { name: "Add LoRA" }).isDisabled());
    expect(hasLoras || !backend.mock).toBe(true); // the mock offers one LoRA
    if (hasLoras) {
      await page.getByLabel("Weight").fill("0.6");
      await page.getByRole("button", { name: "Add LoRA" }).click();
      await page.getByRole("button", { name: /^Remove LoRA/ }).waitFor();
    }
    await page.evaluate(RECORD_PROGRESS_TEXT);
    await page.getByRole("button", { name: "Generate" }).click();
    await page.getByRole("status").filter({ hasText: "Done: 2 images" }).waitFor();
    const seen = (await page.evaluate("globalThis.progressSeen")) as string[];
    expect(seen).toContain("step 1 / 20");
    expect(seen.filter((t) => t === "step 20 / 20")).toHaveLength(2); // one bar per image ran to the end

    const { labels, pixels } = await newestImages(page);
    expect(labels).toEqual(["Image 1", "Image 2"]);
    expect(pixels).toHaveLength(2);
    expect(pixels[0]!.equals(pixels[1]!)).toBe(false);
    const metas = await page.locator(".cards").first().locator(".meta").allTextContents();
    if (backend.mock) expect(metas).toEqual(["clipSkip 1 · seed 42", "clipSkip 1 · seed 43"]); // the mock's per-image seeds
    else metas.forEach((m) => expect(m).toMatch(/seed \d+/));
    if (backend.mock) {
      const task = inferenceTasks(backend.mock).at(-1)!;
      expect(task).toMatchObject({ positivePrompt: "a red fox, watercolor", numberResults: 2, seed: 42, steps: 20, outputFormat: "PNG", lora: [{ model: "vellum:tiny-lora@1", weight: 0.6 }] });
      expect(task).not.toHaveProperty("clipSkip"); // blank field → the model's default
    }

    const src = await page.locator(".cards").first().locator("img").first().getAttribute("src");
    const imageUrl = new URL(src!, page.url());
    if (imageUrl.origin !== new URL(page.url()).origin) return; // a cross-origin `download` link just opens the image
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download Image 1 as PNG" }).click()]);
    const bytes = await readFile((await download.path())!);
    const served = Buffer.from(await (await page.request.get(imageUrl.href)).body());
    expect(bytes.subarray(0, 8).toString("hex")).toBe("89504e470d0a1a0a");
    expect(bytes.equals(served)).toBe(true); // the server's bytes, not a re-encode: its metadata survives
    expect(bytes.includes(Buffer.from("tEXtparameters"))).toBe(true);
    expect(download.suggestedFilename()).toMatch(/^vellum-\d+.*\.png$/);
  });

  it("compares three clipSkip values in ONE request and labels each image", async () => {
    if (backend.mock) backend.mock.dialect = "server";
    const before = backend.mock ? inferenceTasks(backend.mock).length : 0;
    await page.getByLabel("Seed").fill("");
    await page.getByLabel("Single clipSkip").focus();
    await page.keyboard.press("ArrowRight"); // radio group by keyboard → Compare clipSkip
    await expect(page.getByLabel("Compare clipSkip").isChecked()).resolves.toBe(true);
    await page.getByLabel("clipSkip values to compare").fill("0, 1, 2");
    await page.getByRole("button", { name: "Generate" }).click();
    await page.getByRole("status").filter({ hasText: "Done: 3 images" }).waitFor();

    const { labels, pixels } = await newestImages(page);
    expect(labels).toEqual(["clipSkip 0", "clipSkip 1", "clipSkip 2"]);
    expect(new Set(pixels.map((p) => p.toString("base64"))).size).toBe(3);
    const alts = await page.locator(".cards").first().locator("img").evaluateAll((imgs) => imgs.map((i) => i.getAttribute("alt")));
    alts.forEach((alt, i) => expect(alt).toContain(`clipSkip ${i}`));
    if (backend.mock) {
      const sent = inferenceTasks(backend.mock).slice(before);
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatchObject({ clipSkip: [0, 1, 2], numberResults: 3 });
      expect(Number.isInteger(sent[0]!.seed)).toBe(true); // one seed for the whole sweep
    }
    await mkdir(artifacts, { recursive: true });
    await page.screenshot({ path: resolve(artifacts, "playground.png"), fullPage: true });
  });

  it.skipIf(isRealBackend)("labels sweep images by position when results carry no clipSkip", async () => {
    backend.mock!.dialect = "bare";
    await page.getByLabel("clipSkip values to compare").fill("2 0");
    await page.getByRole("button", { name: "Generate" }).click();
    await page.getByRole("status").filter({ hasText: "Done: 2 images" }).waitFor();
    const { labels } = await newestImages(page);
    expect(labels).toEqual(["clipSkip 2", "clipSkip 0"]);
  });

  it("fits a 375-px-wide screen and remembers the key", async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: resolve(artifacts, "playground-375.png"), fullPage: true });

    await page.reload();
    await expect(page.getByLabel("API key").inputValue()).resolves.toBe(backend.apiKey);
    await page.getByRole("status").filter({ hasText: /model.* available/ }).waitFor(); // reconnects on load

    await page.getByRole("button", { name: "Connect" }).click(); // replacing a live connection
    await page.getByRole("status").filter({ hasText: /model.* available/ }).waitFor();
    await page.waitForTimeout(300); // still connected a moment later
    await expect(page.getByRole("status").textContent()).resolves.toMatch(/model.* available/);
    await expect(page.getByRole("button", { name: "Generate" }).isEnabled()).resolves.toBe(true);
  });
});
