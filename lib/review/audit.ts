/**
 * Audit before accept: how far the proposals above a threshold can be trusted, measured by a person
 * on a random sample of exactly those proposals, and the gate that "Accept all above threshold"
 * must pass. Pure functions (no database): the server enforces the gate with them and the review
 * page shows the same figures while the slider moves.
 *
 * Why a sample: held-out labels are few and rarely above the threshold, and the model's confidence
 * is not a probability one can trust. A uniform random sample of the proposals at or above t, each
 * judged by a person, is an unbiased look at what accepting them all would add.
 *
 * Which answers speak for a threshold t: a sample drawn at floor f is uniform over the proposals at
 * or above f, so its answers with confidence >= t are uniform over the proposals at or above t for
 * every t >= f. Answers drawn at a higher floor say nothing about [t, f).
 */
import { minSampleForTarget, moreToReach, wilsonInterval } from "./intervals";

/** One answered audit item: what the run proposed, how sure it was, the floor it was drawn at, and the verdict. */
export type AuditAnswer = { classId: number; confidence: number; floor: number; correct: boolean };

export const DEFAULT_TARGET_PRECISION = 0.95;

/** Thresholds and confidences are stored as floats: a hair of slack so 0.95 >= 0.95 holds after a round trip. */
const EPS = 1e-9;

export type GateStatus = "no_audit" | "stale" | "too_few" | "failing" | "passing";

export type Gate = {
  status: GateStatus;
  open: boolean;
  threshold: number;
  target: number;
  /** Answers that speak for this threshold, and how many said the proposal was right. */
  n: number;
  correct: number;
  precision: number | null;
  interval: [number, number] | null;
  /** Answers a sample needs to be able to show the target (all right). */
  required: number;
  /** More right answers it would take to reach the target; Infinity when out of reach. */
  more: number;
  /** What the accept-all button says when it is closed (null when open). */
  message: string | null;
};

const pct = (x: number) => `${Math.round(100 * x)}%`;

/** Answers that speak for threshold t (see the module comment). */
export function answersFor(answers: readonly AuditAnswer[], threshold: number): AuditAnswer[] {
  return answers.filter((a) => a.floor <= threshold + EPS && a.confidence >= threshold - EPS);
}

/**
 * The gate for one class's proposals at `threshold`, from that class's audit answers of the current
 * model version. `staleModelVersion` names an earlier model whose audit does not count any more.
 */
export function gateFor(
  answers: readonly AuditAnswer[],
  threshold: number,
  target: number,
  staleModelVersion: string | null = null,
): Gate {
  const own = answersFor(answers, threshold);
  const n = own.length;
  const correct = own.filter((a) => a.correct).length;
  const required = minSampleForTarget(target);
  const interval = wilsonInterval(correct, n);
  const precision = n === 0 ? null : correct / n;
  const more = moreToReach(correct, n, target);
  const base = { threshold, target, n, correct, precision, interval, required, more };
  if (n === 0) {
    const higher = answers.filter((a) => a.floor > threshold + EPS).map((a) => a.floor);
    const why = staleModelVersion
      ? `audit ${required}: the audit of ${staleModelVersion} does not count for this model`
      : higher.length > 0
        ? `audit ${required}: the audit was drawn at ≥ ${Math.min(...higher).toFixed(2)}, not at this threshold`
        : `audit ${required} to accept all`;
    return { ...base, status: staleModelVersion ? "stale" : "no_audit", open: false, message: why };
  }
  if (interval && interval[0] >= target - EPS) return { ...base, status: "passing", open: true, message: null };
  const range = `[${Math.round(100 * interval![0])}-${pct(interval![1])}]`;
  if (precision! < target) {
    return { ...base, status: "failing", open: false, message: `precision ${pct(precision!)} ${range} (n=${n}): raise the threshold or retrain` };
  }
  return { ...base, status: "too_few", open: false, message: `audit ${more} more (precision ${pct(precision!)} ${range}, n=${n})` };
}

/**
 * The lowest threshold among `thresholds` at which the class's audit shows the target: only
 * thresholds with answers that speak for them are considered, so a class never gets a threshold
 * below its audited floor. Null when none does.
 *
 * Picking the lowest passing threshold looks at several thresholds with one sample, so the chosen
 * one's bound is a little optimistic; the answers at neighbouring thresholds overlap almost
 * entirely, which keeps that small, and each threshold still needs its own 95% lower bound >= target.
 */
export function chooseClassThreshold(answers: readonly AuditAnswer[], target: number, thresholds: readonly number[]): Gate | null {
  for (const t of [...thresholds].sort((a, b) => a - b)) {
    const gate = gateFor(answers, t, target);
    if (gate.open) return gate;
  }
  return null;
}

/** murmur3's 32-bit finaliser: a cheap bijective mix of 32 bits. */
function mix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * A proposal's place in the audit order of a run: a fixed pseudo-random permutation of image ids
 * per (run, seed). Taking the first k open proposals at or above t in this order is a uniform random
 * sample of them (the order does not depend on confidence or class), the same one on every reload,
 * and "audit more" continues it, since answered images leave the open set.
 */
export function auditRank(imageId: number, runId: number, seed = 0): number {
  return mix32(imageId ^ mix32(runId * 0x9e3779b1 + seed));
}

/** How many to draw for a class now: what reaching the target still takes, at most one full sample, at least 1 when closed. */
export function sampleSizeFor(gate: Gate): number {
  if (gate.open) return 0;
  return Math.max(1, Math.min(gate.required, Number.isFinite(gate.more) ? gate.more : gate.required));
}
