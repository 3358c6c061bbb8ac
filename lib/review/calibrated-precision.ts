/**
 * The review slider's second estimate: expected precision from calibrated confidence. Among the
 * open proposals at or above a threshold, the mean calibrated confidence of their top class is
 * the share a calibrated model expects to be right (what "calibrated" means). It rests on the
 * temperature the worker fitted on held-out human labels (lib/ml/calibration.ts) and is a model's
 * promise, not a measurement: the audited / held-out precision beside it is the measurement.
 */
import type { StoredCalibration } from "@/lib/ml/calibration";

export type CalibratedCurvePoint = { threshold: number; expected: number | null; byClass: Record<number, number | null> };

export type CalibratedSummary = {
  temperature: number | null;
  /** Held-out human labels the temperature was fitted on. */
  n: number;
  eceBefore: number | null;
  eceAfter: number | null;
  /** Why there is no calibrated estimate (e.g. "not enough labels (n=3)"), when there is none. */
  reason: string | null;
  curve: CalibratedCurvePoint[];
};

type OpenProposal = { classId: number; confidence: number; calibrated: number | null };

export function runCalibration(metrics: unknown): StoredCalibration | null {
  return ((metrics ?? {}) as { calibration?: StoredCalibration }).calibration ?? null;
}

/** `open`: the run's open proposals, sorted by raw confidence, descending (as the summary reads them). */
export function calibratedSummary(metrics: unknown, open: readonly OpenProposal[], thresholds: readonly number[], classIds: readonly number[]): CalibratedSummary {
  const stored = runCalibration(metrics);
  const fit = stored?.fit ?? null;
  const base = { temperature: fit?.temperature ?? null, n: stored?.n ?? 0, eceBefore: fit?.eceBefore ?? null, eceAfter: fit?.eceAfter ?? null };
  const missing = open.some((p) => p.calibrated === null);
  if (!fit || missing) {
    const reason = stored?.reason ?? (fit ? "this run's predictions were written before calibration" : "the run was not calibrated (its predictions came before calibration existed)");
    return { ...base, reason, curve: [] };
  }
  // Per class, prefix sums of calibrated confidence in raw-confidence order: a threshold is a prefix.
  const byClass = new Map<number, { conf: number[]; sum: number[] }>(classIds.map((id) => [id, { conf: [], sum: [0] }]));
  for (const p of open) {
    const c = byClass.get(p.classId);
    if (!c) continue;
    c.conf.push(p.confidence);
    c.sum.push(c.sum[c.sum.length - 1] + p.calibrated!);
  }
  const curve = thresholds.map((threshold) => {
    let count = 0;
    let sum = 0;
    const perClass: Record<number, number | null> = {};
    for (const [classId, c] of byClass) {
      let k = 0;
      while (k < c.conf.length && c.conf[k] >= threshold) k++;
      perClass[classId] = k === 0 ? null : c.sum[k] / k;
      count += k;
      sum += c.sum[k];
    }
    return { threshold, expected: count === 0 ? null : sum / count, byClass: perClass };
  });
  return { ...base, reason: null, curve };
}
