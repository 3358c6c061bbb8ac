import type { CalibratedSummary } from "@/lib/review/calibrated-precision";

const pct = (x: number) => `${Math.round(100 * x)}%`;

/**
 * "expected precision above this threshold: 81% (calibrated)": the mean calibrated confidence of
 * the class's open proposals that pass, from the temperature fitted on held-out human labels.
 * A model's promise shown next to the measured figure, never instead of it.
 */
export function CalibratedPrecision({ calibrated, threshold, classId }: { calibrated: CalibratedSummary | null | undefined; threshold: number; classId: number }) {
  if (!calibrated) return null;
  if (calibrated.reason !== null || calibrated.temperature === null) {
    return (
      <span data-testid="review-calibrated" className="text-zinc-500" title="Calibration is fitted on the run's held-out human labels">
        calibrated: {calibrated.reason ?? "not available"}
      </span>
    );
  }
  let point = calibrated.curve[0];
  for (const p of calibrated.curve) if (Math.abs(p.threshold - threshold) < Math.abs(point.threshold - threshold)) point = p;
  const expected = point?.byClass[classId] ?? null;
  const title = `Mean calibrated confidence of the proposals that pass (temperature ${calibrated.temperature.toFixed(2)}, fitted on ${calibrated.n} held-out human labels; calibration error ${pct(calibrated.eceBefore!)} before, ${pct(calibrated.eceAfter!)} after, out of fold)`;
  return (
    <span data-testid="review-calibrated" title={title} className="text-sky-300">
      {expected === null ? "expected precision: no proposal passes" : `expected precision above this threshold: ${pct(expected)} (calibrated)`}
    </span>
  );
}
