import { describe, expect, it } from "vitest";
import { formatParameters, parseParameters, type GenerationParameters } from "./infotext.js";

const base: GenerationParameters = {
  prompt: "masterpiece, (red cube:1.2) on a table",
  negativePrompt: "blurry, lowres",
  steps: 20,
  sampler: "Euler a",
  cfgScale: 7,
  seed: 42,
  width: 512,
  height: 768,
  model: "v1-5-pruned-emaonly",
  modelHash: "6ce0161689",
  clipSkip: 1,
};

describe("formatParameters", () => {
  it("writes A1111's layout, with Clip skip = ours + 1 for SD1", () => {
    expect(formatParameters(base)).toBe(
      "masterpiece, (red cube:1.2) on a table\nNegative prompt: blurry, lowres\n" +
        "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x768, Model hash: 6ce0161689, " +
        "Model: v1-5-pruned-emaonly, Clip skip: 2, vellum clipSkip: 1",
    );
  });
  it("omits the negative line when empty, A1111's Clip skip when it would be 1, and for SDXL", () => {
    const { modelHash: _omitted, ...withoutHash } = base;
    const text = formatParameters({ ...withoutHash, negativePrompt: "", clipSkip: 0 });
    expect(text.split("\n")).toHaveLength(2);
    expect(text).not.toContain("Clip skip");
    expect(text).toContain("vellum clipSkip: 0");
    expect(formatParameters({ ...base, family: "sdxl" })).not.toContain("Clip skip:");
  });
  it("quotes values containing commas, colons or newlines", () => {
    expect(formatParameters({ ...base, model: "a, b: c" })).toContain('Model: "a, b: c"');
  });
});

describe("parseParameters", () => {
  const rows: [string, Partial<GenerationParameters>][] = [
    ["SD1 with clip skip", {}],
    ["no negative, clip skip 0", { negativePrompt: "", clipSkip: 0 }],
    ["huge seed, fractional CFG, schedule type", { seed: 2n ** 63n - 1n, cfgScale: 7.5, scheduleType: "Karras" }],
    ["multi-line prompt and negative", { prompt: "line one,\nline two", negativePrompt: "bad,\nworse" }],
    ["quoted model name", { model: 'my "model", v2: final' }],
    ["SDXL keeps our clipSkip", { family: "sdxl", clipSkip: 2 }],
    ["img2img strength", { denoisingStrength: 0.75 }],
  ];
  for (const [name, change] of rows) {
    it(`round-trips: ${name}`, () => {
      const p = { ...base, ...change };
      const parsed = parseParameters(formatParameters(p));
      expect(parsed.prompt).toBe(p.prompt);
      expect(parsed.negativePrompt).toBe(p.negativePrompt ?? "");
      expect(parsed.steps).toBe(p.steps);
      expect(parsed.sampler).toBe(p.sampler);
      expect(parsed.cfgScale).toBe(p.cfgScale);
      expect(parsed.seed).toBe(BigInt(p.seed));
      expect([parsed.width, parsed.height]).toEqual([p.width, p.height]);
      expect(parsed.model).toBe(p.model);
      expect(parsed.clipSkip).toBe(p.clipSkip);
      expect(parsed.scheduleType).toBe(p.scheduleType);
      expect(parsed.denoisingStrength).toBe(p.denoisingStrength);
    });
  }
  it("reads an A1111 text without our field: clipSkip = Clip skip − 1", () => {
    const parsed = parseParameters("a cat\nSteps: 30, Sampler: DPM++ 2M, CFG scale: 6, Seed: 1, Size: 512x512, Clip skip: 2");
    expect(parsed.clipSkip).toBe(1);
    expect(parsed.fields["Sampler"]).toBe("DPM++ 2M");
  });
  it("treats text without a parameters line as prompt only", () => {
    const parsed = parseParameters("just a prompt: with colon");
    expect(parsed.prompt).toBe("just a prompt: with colon");
    expect(parsed.steps).toBeUndefined();
    expect(parsed.clipSkip).toBe(0);
  });
});
