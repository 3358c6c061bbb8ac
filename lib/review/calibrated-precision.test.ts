import { expect, it } from "vitest";
import { calibratedSummary } from "./calibrated-precision";

const fit = { temperature: 2, n: 40, folds: 5, nllBefore: 1, nllAfter: 0.5, eceBefore: 0.3, eceAfter: 0.05, reliabilityBefore: [], reliabilityAfter: [] };

it("expected precision above a threshold = mean calibrated confidence of the open proposals that pass, per class", () => {
  const open = [
    { classId: 1, confidence: 0.99, calibrated: 0.9 },
    { classId: 2, confidence: 0.98, calibrated: 0.6 },
    { classId: 1, confidence: 0.97, calibrated: 0.7 },
    { classId: 1, confidence: 0.6, calibrated: 0.4 },
  ];
  const s = calibratedSummary({ calibration: { fit, n: 40, reason: null } }, open, [0.5, 0.975, 0.995], [1, 2]);
  expect(s).toMatchObject({ temperature: 2, n: 40, eceBefore: 0.3, eceAfter: 0.05, reason: null });
  expect(s.curve[0].byClass[1]).toBeCloseTo((0.9 + 0.7 + 0.4) / 3, 10);
  expect(s.curve[0].expected).toBeCloseTo((0.9 + 0.6 + 0.7 + 0.4) / 4, 10);
  expect(s.curve[1].byClass).toEqual({ 1: 0.9, 2: 0.6 });
  expect(s.curve[2]).toEqual({ threshold: 0.995, expected: null, byClass: { 1: null, 2: null } });
});

it("says why there is no calibrated estimate: too few labels, or predictions from before calibration", () => {
  expect(calibratedSummary({ calibration: { fit: null, n: 3, reason: "not enough labels (n=3)" } }, [], [0.5], [1])).toMatchObject({ temperature: null, reason: "not enough labels (n=3)", curve: [] });
  expect(calibratedSummary({}, [{ classId: 1, confidence: 0.9, calibrated: null }], [0.5], [1]).reason).toMatch(/before calibration/);
});
