// The playground page in Debian's Chromium (playwright-core, no downloaded browser) against vellum's REAL server on the
// tiny golden SD1 model (page loaded from the server's own `/`): connect, generate, compare clipSkip values in one
// request, img2img and inpainting with a painted mask, download, narrow screen. `VELLUM_BROWSER_BACKEND=mock` drives
// the in-test mock instead (it alone can send the older/bare reply shapes; see the mock-only checks below).
import { mkdir, readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMockBackend, type MockBackend } from "./mock-backend.js";
import { CHROMIUM_PATH, hasChromium } from "../helpers/system-tools.js";

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

const CHROMIUM = CHROMIUM_PATH;
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const artifacts = resolve(root, "test-artifacts");

const isRealBackend = process.env.VELLUM_BROWSER_BACKEND !== "mock";
/** Few steps: the tiny model at 128×128 (the API's minimum size) answers in well under a second per image. */
const STEPS = 3;

interface PlaygroundBackend {
  /** Where the page is loaded from (with `?server=` when the WebSocket lives elsewhere). */
  readonly pageUrl: string;
  readonly apiKey: string;
  /** Set when the mock answers: recorded frames and reply dialects can be checked. */
  readonly mock: MockBackend | undefined;
  close(): Promise<void>;
}

/**
 * The one place that picks the server. Default: vellum's own server (src/api via test/contract's startTestServer: tiny
 * golden SD1 catalog, the real pipeline generator in its worker thread), which also serves web/ at `/`.
 * `VELLUM_BROWSER_BACKEND=mock`: the in-test mock. Checks that only the mock can set up are guarded by `backend.mock`.
 */
async function startBackend(): Promise<PlaygroundBackend> {
  if (!isRealBackend) {
    const mock = await startMockBackend({ webDir: resolve(root, "web") });
    return { pageUrl: mock.url, apiKey: mock.apiKey, mock, close: () => mock.close() };
  }
  const { startTestServer, API_KEY } = await import("../contract/helpers/test-server.js");
  const server = await startTestServer();
  return { pageUrl: `${server.url}/`, apiKey: API_KEY, mock: undefined, close: () => server.close() };
}

/** Runs in the page: collects every text the result cards show (progress steps come and go too fast to poll). */
const RECORD_PROGRESS_TEXT = `
  globalThis.progressSeen = [];
  new MutationObserver((records) => {
    for (const r of records) for (const n of r.addedNodes) if (n.nodeType === 3 && n.data.startsWith("step ")) globalThis.progressSeen.push(n.data);
  }).observe(document.getElementById("results"), { childList: true, subtree: true });
`;

type Task = Record<string, unknown>;
/** Every task the page sent over its WebSockets, in order (recorded by the browser, so it works for both backends). */
const sent: Task[] = [];
const sentOf = (taskType: string) => sent.filter((t) => t.taskType === taskType);

/** A 128×128 test picture: a diagonal gradient with a dark square, as a PNG file. */
async function seedPng(): Promise<Buffer> {
  const size = 128;
  const px = Buffer.alloc(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const o = (y * size + x) * 3;
      const inSquare = x >= 40 && x < 88 && y >= 40 && y < 88;
      px[o] = inSquare ? 20 : 2 * x;
      px[o + 1] = inSquare ? 20 : 2 * y;
      px[o + 2] = inSquare ? 30 : 255 - x - y;
    }
  }
  return sharp(px, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
}

/** The A1111 parameters text of a served PNG. */
async function parametersOf(page: Page, src: string): Promise<string> {
  const bytes = Buffer.from(await (await page.request.get(src)).body());
  const at = bytes.indexOf(Buffer.from("tEXtparameters\0", "latin1"));
  expect(at).toBeGreaterThan(0);
  const length = bytes.readUInt32BE(at - 4);
  return bytes.subarray(at + 4 + "parameters\0".length, at + 4 + length).toString("latin1");
}

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
    page.on("websocket", (ws) =>
      ws.on("framesent", ({ payload }) => {
        const frame: unknown = JSON.parse(String(payload));
        if (Array.isArray(frame)) sent.push(...(frame as Task[]));
      }),
    );
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
    }
    expect(sentOf("modelSearch").map((t) => t.category).sort()).toEqual(["checkpoint", "lora"]);
    expect(sent[0]).toEqual({ taskType: "authentication", apiKey: "not-the-key" });
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
    await page.getByLabel("Steps").fill(String(STEPS));
    await page.getByLabel("Number of images").fill("2");
    await page.getByLabel("Seed", { exact: true }).fill("42");
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
    expect(seen).toContain(`step 1 / ${STEPS}`);
    expect(seen.filter((t) => t === `step ${STEPS} / ${STEPS}`)).toHaveLength(2); // one bar per image ran to the end

    const { labels, pixels } = await newestImages(page);
    expect(labels).toEqual(["Image 1", "Image 2"]);
    expect(pixels).toHaveLength(2);
    expect(pixels[0]!.equals(pixels[1]!)).toBe(false);
    const metas = await page.locator(".cards").first().locator(".meta").allTextContents();
    if (backend.mock) expect(metas).toEqual(["clipSkip 1 · seed 42", "clipSkip 1 · seed 43"]); // the mock's per-image seeds
    else expect(metas.map((m) => m.replace(/^clipSkip \d+ · /, ""))).toEqual(["seed 42", "seed 43"]); // seed + i per image
    const task = sentOf("imageInference").at(-1)!;
    expect(task).toMatchObject({ positivePrompt: "a red fox, watercolor", numberResults: 2, seed: 42, steps: STEPS, outputFormat: "PNG", lora: [{ model: "vellum:tiny-lora@1", weight: 0.6 }] });
    expect(task).not.toHaveProperty("clipSkip"); // blank field → the model's default

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
    const before = sentOf("imageInference").length;
    await page.getByLabel("Seed", { exact: true }).fill("");
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
    const tasks = sentOf("imageInference").slice(before);
    expect(tasks).toHaveLength(1); // ONE request for the whole sweep
    expect(tasks[0]).toMatchObject({ clipSkip: [0, 1, 2], numberResults: 3 });
    expect(Number.isInteger(tasks[0]!.seed)).toBe(true); // one seed for the whole sweep
    const metas = await page.locator(".cards").first().locator(".meta").allTextContents();
    expect(new Set(metas).size).toBe(1); // …and every image reports that same seed
    expect(metas[0]).toBe(`seed ${tasks[0]!.seed}`);
    await mkdir(artifacts, { recursive: true });
    await page.screenshot({ path: resolve(artifacts, "playground.png"), fullPage: true });
  });

  // Mock only: the real server always labels its results (clipSkipApplied), so only the mock can omit them.
  it.skipIf(isRealBackend)("labels sweep images by position when results carry no clipSkip", async () => {
    backend.mock!.dialect = "bare";
    await page.getByLabel("clipSkip values to compare").fill("2 0");
    await page.getByRole("button", { name: "Generate" }).click();
    await page.getByRole("status").filter({ hasText: "Done: 2 images" }).waitFor();
    const { labels } = await newestImages(page);
    expect(labels).toEqual(["clipSkip 2", "clipSkip 0"]);
  });

  // The mock has no imageUpload and ignores seed images: these run against the real server only.
  it.skipIf(!isRealBackend)("img2img: a seed image file is sent as a data URI with its strength", async () => {
    await page.getByLabel("Single clipSkip").check();
    await page.getByLabel("Number of images").fill("1");
    await page.getByLabel("Seed", { exact: true }).fill("7");
    await page.getByLabel("Seed image", { exact: true }).setInputFiles({ name: "seed.png", mimeType: "image/png", buffer: await seedPng() });
    await page.getByLabel("Strength").waitFor(); // the image options appear once the file is read
    await expect(page.getByLabel("Width").inputValue()).resolves.toBe("128"); // the request size follows the image
    await page.getByLabel("Strength").fill("0.6");
    const before = sentOf("imageInference").length;
    await page.getByRole("button", { name: "Generate" }).click();
    await page.getByRole("status").filter({ hasText: /Done: 1 image/ }).waitFor();

    const task = sentOf("imageInference").slice(before)[0]!;
    expect(task).toMatchObject({ strength: 0.6, width: 128, height: 128, seed: 7 });
    expect(String(task.seedImage)).toMatch(/^data:image\/png;base64,/);
    expect(Buffer.from(String(task.seedImage).split(",")[1]!, "base64").equals(await seedPng())).toBe(true); // the file as chosen
    expect(task).not.toHaveProperty("maskImage");
    const { labels, srcs } = await newestImages(page);
    expect(labels).toEqual(["Image 1"]);
    expect(await page.locator(".cards").first().locator(".meta").textContent()).toMatch(/seed 7 · img2img, strength 0\.6$/);
    expect(await parametersOf(page, srcs[0]!)).toContain("Denoising strength: 0.6");
  });

  it.skipIf(!isRealBackend)("inpainting: the painted mask is sent as a black/white PNG of the seed image's size, the image uploaded once", async () => {
    const img2img = (await newestImages(page)).pixels[0]!;
    await page.getByLabel("Paint a mask (inpainting)").check();
    await page.getByLabel("Upload once (imageUpload) and reuse it").check();
    await page.getByLabel("Brush size").fill("32");
    await expect(page.locator("#brush-size-value").textContent()).resolves.toBe("32 px");
    const before = sentOf("imageInference").length;
    await page.getByRole("button", { name: "Generate" }).click(); // nothing painted yet: refused in the page
    await page.locator(".error").filter({ hasText: "invalidMaskImage" }).waitFor();
    expect(sentOf("imageInference")).toHaveLength(before);

    const canvas = page.getByRole("img", { name: /^Mask over the seed image/ });
    const box = (await canvas.boundingBox())!;
    // a horizontal stroke across the middle of the image (canvas coordinates scale to the image's 128 px)
    await page.mouse.move(box.x + box.width * 0.2, box.y + box.height * 0.5);
    await page.mouse.down();
    for (let f = 0.25; f <= 0.8; f += 0.05) await page.mouse.move(box.x + box.width * f, box.y + box.height * 0.5);
    await page.mouse.up();
    await page.getByRole("button", { name: "Generate" }).click();
    await page.getByRole("status").filter({ hasText: /Done: 1 image/ }).waitFor();
    await page.screenshot({ path: resolve(artifacts, "playground-inpaint.png"), fullPage: true });

    const uploads = sentOf("imageUpload");
    expect(uploads).toHaveLength(1);
    expect(uploads[0]!.image).toMatch(/^data:image\/png;base64,/);
    const task = sentOf("imageInference").slice(before)[0]!;
    expect(task.seedImage).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/); // the uploaded image's UUID
    expect(String(task.maskImage)).toMatch(/^data:image\/png;base64,/);
    const mask = sharp(Buffer.from(String(task.maskImage).split(",")[1]!, "base64"));
    const { data, info } = await mask.greyscale().raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([128, 128]); // the seed image's size
    expect(data.every((v) => v === 0 || v === 255)).toBe(true);
    expect(data[64 * 128 + 64]).toBe(255); // painted: repaint
    expect(data[64 * 128 + 2]).toBe(0); // left of the stroke: keep
    expect(data[10 * 128 + 64]).toBe(0); // above it: keep
    const { pixels, srcs } = await newestImages(page);
    expect(await page.locator(".cards").first().locator(".meta").textContent()).toMatch(/inpainting, strength 0\.6$/);
    expect(await parametersOf(page, srcs[0]!)).toContain("Denoising strength: 0.6");
    expect(pixels[0]!.equals(img2img)).toBe(false);

    // a second run reuses the upload; removing the image returns to text-to-image
    await page.getByRole("button", { name: "Generate" }).click();
    await page.getByRole("status").filter({ hasText: /Done: 1 image/ }).waitFor();
    expect(sentOf("imageUpload")).toHaveLength(1);
    expect(sentOf("imageInference").at(-1)!.seedImage).toBe(task.seedImage);
    await page.getByRole("button", { name: "Remove image" }).click();
    await expect(page.getByLabel("Strength").isHidden()).resolves.toBe(true);
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
