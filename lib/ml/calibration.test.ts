import { describe, expect, it } from "vitest";
import { calibrate, calibratedConfidence, fitTemperature, meanNll, reliability, softmaxWithTemperature } from "./calibration";
import { Rng } from "./rng";

/** A calibrated model by construction: each label is drawn from softmax(z) of its own logits. */
function calibratedModel(n: number, classes: number, seed: number) {
  const rng = new Rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const logits: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: classes }, () => 1.5 * gauss());
    const p = softmaxWithTemperature(z, 1);
    let u = rng.next();
    let y = 0;
    while (y < classes - 1 && u >= p[y]) u -= p[y++];
    logits.push(z);
    labels.push(y);
  }
  return { logits, labels };
}

describe("temperature scaling", () => {
  it("finds T ~ 3 for logits x3 of a calibrated model, and lowers its ECE and NLL out of fold", () => {
    const { logits, labels } = calibratedModel(3000, 5, 7);
    const overconfident = logits.map((z) => z.map((v) => 3 * v));
    const fit = calibrate(overconfident, labels);
    console.info(`T ${fit.temperature.toFixed(3)}; ECE ${fit.eceBefore.toFixed(4)} -> ${fit.eceAfter.toFixed(4)}; NLL ${fit.nllBefore.toFixed(4)} -> ${fit.nllAfter.toFixed(4)}`);
    expect(fit.temperature).toBeGreaterThan(2.7);
    expect(fit.temperature).toBeLessThan(3.3);
    expect(fit.eceAfter).toBeLessThan(fit.eceBefore / 3);
    expect(fit.eceAfter).toBeLessThan(0.03);
    expect(fit.nllAfter).toBeLessThan(fit.nllBefore);
    // The calibrated model's own NLL is the floor the fit reaches.
    expect(fit.nllAfter).toBeCloseTo(meanNll(logits, labels, 1), 2);
    expect(fit.reliabilityAfter.reduce((s, b) => s + b.count, 0)).toBe(3000);
  });

  it("leaves a calibrated model at T ~ 1, and sharpens an underconfident one (T < 1)", () => {
    const { logits, labels } = calibratedModel(3000, 4, 11);
    expect(Math.abs(fitTemperature(logits, labels) - 1)).toBeLessThan(0.1);
    expect(fitTemperature(logits.map((z) => z.map((v) => v / 2)), labels)).toBeCloseTo(0.5, 1);
  });

  it("the fitted T is the NLL minimum (checked against a grid)", () => {
    const { logits, labels } = calibratedModel(500, 3, 3);
    const hot = logits.map((z) => z.map((v) => 2 * v));
    const t = fitTemperature(hot, labels);
    const best = meanNll(hot, labels, t);
    for (let g = 0.5; g <= 5; g += 0.05) expect(meanNll(hot, labels, g)).toBeGreaterThanOrEqual(best - 1e-9);
  });

  it("works from stored probabilities (log p = logits + a constant), keeping the top class", () => {
    const z = [4, 1, -2];
    const p = softmaxWithTemperature(z, 1);
    expect(calibratedConfidence(p, 2)).toBeCloseTo(Math.max(...softmaxWithTemperature(z, 2)), 10);
    expect(calibratedConfidence(p, 1)).toBeCloseTo(Math.max(...p), 10);
  });

  it("ECE: weighted gap between accuracy and confidence per bin", () => {
    // 10 predictions at 0.95, 6 right: one bin, gap 0.35.
    const pairs = Array.from({ length: 10 }, (_, i) => ({ confidence: 0.95, correct: i < 6 }));
    const r = reliability(pairs);
    expect(r.ece).toBeCloseTo(0.35, 10);
    expect(r.bins.filter((b) => b.count > 0)).toEqual([{ lo: 14 / 15, hi: 1, count: 10, confidence: 0.95, accuracy: 0.6 }]);
  });
});
