import { describe, expect, it } from "vitest";
import { pickIndex, pickNext, type Waiting } from "./affinity.js";

const jobs = (...models: string[]): Waiting[] => models.map((model) => ({ model, passedOver: 0 }));

describe("model affinity pick", () => {
  it("takes the head when nothing is held or no waiting job's model is held", () => {
    expect(pickIndex(jobs("a", "b"), [], 3)).toBe(0);
    expect(pickIndex(jobs("a", "b"), ["c"], 3)).toBe(0);
  });

  it("takes the first job of a held model and counts the jobs it passed over", () => {
    const w = jobs("a", "b", "c", "c");
    expect(pickNext(w, ["c"], 3)?.model).toBe("c");
    expect(w.map((j) => [j.model, j.passedOver])).toEqual([["a", 1], ["b", 1], ["c", 0]]);
  });

  it("never passes a job over more than maxPassOvers times", () => {
    const w = jobs("a", "c", "c", "c", "c");
    const taken: string[] = [];
    while (w.length > 0) taken.push(pickNext(w, ["c"], 2)!.model);
    expect(taken).toEqual(["c", "c", "a", "c", "c"]);
  });

  it("stops the scan at a job that reached its bound even when a later job's model is held", () => {
    const w: Waiting[] = [{ model: "a", passedOver: 0 }, { model: "b", passedOver: 3 }, { model: "c", passedOver: 0 }];
    expect(pickIndex(w, ["c"], 3)).toBe(0);
  });
});
