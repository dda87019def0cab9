import { describe, expect, it } from "vitest";
import type { Scheduler } from "../schedulers/index.js";
import { SeedImageError } from "./seed-image-error.js";
import { applyStrength, checkStrength, schedulerOrder } from "./strength.js";

function fakeScheduler(timesteps: number): Scheduler & { begin: number } {
  const s = {
    begin: -1,
    timesteps: Array.from({ length: timesteps }, (_, i) => 999 - i),
    initNoiseSigma: 1,
    setBeginIndex(i: number) {
      s.begin = i;
    },
    scaleModelInput: () => {
      throw new Error("unused");
    },
    step: () => {
      throw new Error("unused");
    },
    addNoise: () => {
      throw new Error("unused");
    },
  };
  return s;
}

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof SeedImageError) return e.code;
    throw e;
  }
  return undefined;
}

describe("applyStrength (diffusers get_timesteps)", () => {
  it.each([
    [0.3, 1, 5], // int(6 · 0.3) = int(1.7999…) = 1
    [0.5, 3, 3],
    [0.75, 4, 2],
    [1.0, 6, 0],
  ])("6 steps, strength %f keeps %i, starts at %i, and sets the begin index", (strength, kept, start) => {
    const s = fakeScheduler(6);
    expect(applyStrength(s, 6, strength)).toEqual({ initTimestep: kept, tStart: start, startIndex: start });
    expect(s.begin).toBe(start);
  });

  it("skips t_start · order entries for two-call samplers (2n − 1 timesteps), t_start for the others (PNDM's n + 1 too)", () => {
    const s = fakeScheduler(11);
    expect(applyStrength(s, 6, 0.5, schedulerOrder("HeunDiscreteScheduler")).startIndex).toBe(6);
    expect(s.begin).toBe(6);
    expect(schedulerOrder("KDPM2DiscreteScheduler")).toBe(2);
    expect(schedulerOrder("KDPM2AncestralDiscreteScheduler")).toBe(2);
    expect(applyStrength(fakeScheduler(7), 6, 0.5, schedulerOrder("PNDMScheduler")).startIndex).toBe(3);
  });

  it("refuses strengths outside [0, 1] and ones that keep no step", () => {
    for (const bad of [-0.1, 1.01, Number.NaN, Number.POSITIVE_INFINITY]) expect(code(() => checkStrength(bad))).toBe("invalidStrength");
    expect(code(() => applyStrength(fakeScheduler(6), 6, 0))).toBe("invalidStrength");
    expect(code(() => applyStrength(fakeScheduler(6), 6, 0.16))).toBe("invalidStrength");
    expect(code(() => applyStrength(fakeScheduler(6), 6, 1 / 6))).toBeUndefined();
  });
});
