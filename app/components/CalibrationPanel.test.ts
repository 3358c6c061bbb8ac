import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { expect, it } from "vitest";
import { calibrate } from "@/lib/ml/calibration";
import { CalibrationPanel } from "./CalibrationPanel";

it("shows ECE before and after, the temperature and n, or why there is no fit", () => {
  // Two classes, an overconfident model: logits +-6 while it is right 75% of the time.
  const logits = Array.from({ length: 40 }, (_, i) => (i % 2 ? [6, -6] : [-6, 6]));
  const predicted = logits.map((z) => (z[0] > z[1] ? 0 : 1));
  const labels = predicted.map((p, i) => (i % 4 === 0 ? 1 - p : p));
  expect(labels.filter((y, i) => y === predicted[i]).length).toBe(30);
  const fit = calibrate(logits, labels);
  const html = renderToStaticMarkup(createElement(CalibrationPanel, { calibration: { fit, n: 40, reason: null } }));
  expect(html).toContain(`${(100 * fit.eceBefore).toFixed(1)}%`);
  expect(html).toContain(`${(100 * fit.eceAfter).toFixed(1)}%`);
  expect(html).toContain(fit.temperature.toFixed(2));
  expect(html).toContain("n=40 held-out human labels");
  // Confidence ~1 where 75% are right: ECE ~25% before; a temperature brings it down.
  expect(fit.eceBefore).toBeGreaterThan(0.2);
  expect(fit.eceAfter).toBeLessThan(0.1);
  const none = renderToStaticMarkup(createElement(CalibrationPanel, { calibration: { fit: null, n: 3, reason: "not enough labels (n=3)" } }));
  expect(none).toContain("not enough labels (n=3)");
});
