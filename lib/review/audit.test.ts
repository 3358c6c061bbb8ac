import { describe, expect, it } from "vitest";
import { answersFor, auditRank, chooseClassThreshold, gateFor, sampleSizeFor, type AuditAnswer } from "./audit";
import { CURVE_THRESHOLDS } from "./precision";

const answer = (confidence: number, correct: boolean, floor = 0.9): AuditAnswer => ({ classId: 1, confidence, floor, correct });
const many = (n: number, correct: boolean, confidence = 0.97, floor = 0.9) => Array.from({ length: n }, () => answer(confidence, correct, floor));

describe("gateFor", () => {
  it("is closed without an audit and says how many to check", () => {
    const g = gateFor([], 0.95, 0.95);
    expect(g).toMatchObject({ status: "no_audit", open: false, n: 0, precision: null, interval: null, required: 73, more: 73 });
    expect(g.message).toBe("audit 73 to accept all");
  });

  it("is closed with too few answers, all right: 'audit k more'", () => {
    const g = gateFor(many(61, true), 0.95, 0.95);
    expect(g).toMatchObject({ status: "too_few", open: false, n: 61, correct: 61, more: 12 });
    expect(g.message).toMatch(/^audit 12 more \(precision 100% \[9\d-100%\], n=61\)$/);
  });

  it("fails when the audited precision is below the target, whatever the sample size", () => {
    // A model right a third of the time: 33 of 100.
    const g = gateFor([...many(33, true), ...many(67, false)], 0.95, 0.95);
    expect(g).toMatchObject({ status: "failing", open: false, n: 100, correct: 33 });
    expect(g.message).toBe("precision 33% [25-43%] (n=100): raise the threshold or retrain");
  });

  it("opens once the 95% lower bound reaches the target", () => {
    const g = gateFor(many(73, true), 0.95, 0.95);
    expect(g).toMatchObject({ status: "passing", open: true, n: 73, more: 0, message: null });
    expect(g.interval![0]).toBeGreaterThanOrEqual(0.95);
    // The project's own target decides: 16 right answers open an 80% gate but not a 95% one.
    expect(gateFor(many(16, true), 0.95, 0.8).open).toBe(true);
    expect(gateFor(many(16, true), 0.95, 0.95).open).toBe(false);
  });

  it("says when the only audit was of an earlier model version", () => {
    const g = gateFor([], 0.95, 0.95, "p1-r1");
    expect(g).toMatchObject({ status: "stale", open: false });
    expect(g.message).toBe("audit 73: the audit of p1-r1 does not count for this model");
  });

  it("uses only answers drawn at or below the threshold and with confidence at or above it", () => {
    const answers = [answer(0.99, true, 0.95), answer(0.96, false, 0.95), answer(0.92, true, 0.9)];
    expect(answersFor(answers, 0.95)).toHaveLength(2);
    expect(answersFor(answers, 0.97)).toEqual([answers[0]]);
    // Below the lowest floor the sample says nothing.
    expect(answersFor(answers, 0.85)).toEqual([]);
    expect(gateFor(answers, 0.92, 0.95).n).toBe(1);
    expect(gateFor(answers, 0.85, 0.95).message).toBe("audit 73: the audit was drawn at ≥ 0.90, not at this threshold");
  });
});

describe("chooseClassThreshold", () => {
  it("picks the lowest threshold whose audited lower bound meets the target", () => {
    // Drawn at 0.80: wrong answers sit between 0.80 and 0.90, 80 right ones at 0.95 and above.
    const answers = [...many(10, false, 0.85, 0.8), ...many(80, true, 0.96, 0.8)];
    const chosen = chooseClassThreshold(answers, 0.95, CURVE_THRESHOLDS)!;
    expect(chosen.threshold).toBeCloseTo(0.86, 9);
    expect(chosen).toMatchObject({ n: 80, correct: 80, open: true });
    // At 0.85 the wrong ones still count and the gate is closed.
    expect(gateFor(answers, 0.85, 0.95).open).toBe(false);
  });

  it("never goes below the audited floor, and is null when no threshold passes", () => {
    const answers = many(80, true, 0.97, 0.95);
    expect(chooseClassThreshold(answers, 0.95, CURVE_THRESHOLDS)!.threshold).toBeCloseTo(0.95, 9);
    expect(chooseClassThreshold(many(30, true, 0.97, 0.95), 0.95, CURVE_THRESHOLDS)).toBeNull();
    expect(chooseClassThreshold([], 0.95, CURVE_THRESHOLDS)).toBeNull();
  });
});

describe("auditRank and sampleSizeFor", () => {
  it("orders images pseudo-randomly, the same way every time, another way per run or seed", () => {
    const ids = Array.from({ length: 200 }, (_, i) => i + 1);
    const order = (run: number, seed = 0) => [...ids].sort((a, b) => auditRank(a, run, seed) - auditRank(b, run, seed));
    expect(order(3)).toEqual(order(3));
    expect(order(3)).not.toEqual(order(4));
    expect(order(3, 1)).not.toEqual(order(3));
    // Not the id order: the first 20 of a random order of 1..200 span most of the range.
    const first = order(3).slice(0, 20);
    expect(Math.max(...first) - Math.min(...first)).toBeGreaterThan(100);
  });

  it("draws what the gate still needs, at most one full sample", () => {
    expect(sampleSizeFor(gateFor([], 0.95, 0.95))).toBe(73);
    expect(sampleSizeFor(gateFor(many(61, true), 0.95, 0.95))).toBe(12);
    expect(sampleSizeFor(gateFor([...many(5, true), ...many(5, false)], 0.95, 0.95))).toBe(73);
    expect(sampleSizeFor(gateFor(many(73, true), 0.95, 0.95))).toBe(0);
  });
});
