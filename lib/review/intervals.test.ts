import { describe, expect, it } from "vitest";
import { minSampleForTarget, moreToReach, wilsonInterval, wilsonLower } from "./intervals";

describe("wilsonInterval", () => {
  it("matches published 95% Wilson intervals (statsmodels proportion_confint method='wilson')", () => {
    const [lo, hi] = wilsonInterval(8, 10)!;
    expect(lo).toBeCloseTo(0.4902, 4);
    expect(hi).toBeCloseTo(0.9433, 4);
    const [lo0, hi0] = wilsonInterval(0, 10)!;
    expect(lo0).toBe(0);
    expect(hi0).toBeCloseTo(0.2775, 4);
    const [lo33, hi33] = wilsonInterval(33, 100)!;
    expect(lo33).toBeCloseTo(0.2456, 4);
    expect(hi33).toBeCloseTo(0.4269, 4);
  });

  it("has no interval without a sample, and all right gives n / (n + z²) below 1", () => {
    expect(wilsonInterval(0, 0)).toBeNull();
    expect(wilsonLower(0, 0)).toBe(0);
    expect(wilsonLower(20, 20)).toBeCloseTo(20 / (20 + 1.96 ** 2), 12);
    expect(wilsonInterval(20, 20)![1]).toBeCloseTo(1, 12);
  });
});

describe("minSampleForTarget", () => {
  it("is the smallest all-right sample whose lower bound reaches the target", () => {
    expect(minSampleForTarget(0.95)).toBe(73);
    expect(minSampleForTarget(0.9)).toBe(35);
    expect(minSampleForTarget(0.8)).toBe(16);
    expect(minSampleForTarget(0.7)).toBe(9);
    for (const t of [0.6, 0.75, 0.9, 0.95, 0.97, 0.99]) {
      const n = minSampleForTarget(t);
      expect(wilsonLower(n, n)).toBeGreaterThanOrEqual(t);
      expect(wilsonLower(n - 1, n - 1)).toBeLessThan(t);
    }
    // 20-30 right answers cannot show 95%: that is why the sample is 73.
    expect(wilsonLower(30, 30)).toBeLessThan(0.9);
    expect(minSampleForTarget(1)).toBe(Infinity);
  });
});

describe("moreToReach", () => {
  it("counts the right answers still needed, 0 when reached, Infinity when out of reach", () => {
    expect(moreToReach(73, 73, 0.95)).toBe(0);
    expect(moreToReach(60, 60, 0.95)).toBe(13);
    // One wrong answer in 73 costs 37 more right ones.
    expect(moreToReach(72, 73, 0.95)).toBe(37);
    const k = moreToReach(72, 73, 0.95);
    expect(wilsonLower(72 + k, 73 + k)).toBeGreaterThanOrEqual(0.95);
    expect(wilsonLower(72 + k - 1, 73 + k - 1)).toBeLessThan(0.95);
    expect(moreToReach(0, 0, 0.95)).toBe(73);
    expect(moreToReach(1, 3, 0.95, 100)).toBe(Infinity);
  });
});
