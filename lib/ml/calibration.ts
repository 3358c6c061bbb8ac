/**
 * Calibrated confidence: temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural
 * Networks", arXiv 1706.04599). One number T divides the logits; T > 1 softens an overconfident
 * model, and the top class never changes, so proposals stay the same and only their confidence
 * moves. T is fitted on held-out HUMAN labels (lib/review/ground-truth.ts) by minimising the
 * negative log-likelihood: NLL is convex in 1/T, so a golden-section search over log T finds it.
 *
 * The app stores probabilities, not logits; log p differs from the logits by a constant per image,
 * which softmax ignores, so softmax(log p / T) is exactly the temperature-scaled prediction (up to
 * the clamp of p at 1e-12).
 *
 * The "after" figures (ECE, NLL, reliability) are measured out of fold: T fitted on the other folds
 * is applied to each fold, so the calibration is never scored on the labels it was fitted to.
 *
 * Pure TypeScript, no tfjs: the worker fits it, the web server reads what the worker stored.
 */

/** Probabilities below this are clamped before the log, so a float32 zero stays finite. */
const MIN_P = 1e-12;
/** The search range of T: 0.05 (sharpen 20x) .. 20 (soften 20x). */
const T_RANGE: [number, number] = [0.05, 20];
/** Equal-width confidence bins of the reliability diagram and the ECE (Guo et al. use 15). */
export const RELIABILITY_BINS = 15;

export type ReliabilityBin = { lo: number; hi: number; count: number; confidence: number | null; accuracy: number | null };

export type CalibrationFit = {
  temperature: number;
  /** Held-out human labels it was fitted and measured on. */
  n: number;
  folds: number;
  nllBefore: number;
  nllAfter: number;
  eceBefore: number;
  eceAfter: number;
  reliabilityBefore: ReliabilityBin[];
  reliabilityAfter: ReliabilityBin[];
};

/** What a run stores in its metrics after predict (worker/handlers/train.ts): the fit, or why there is none. */
export type StoredCalibration = { fit: CalibrationFit | null; n: number; reason: string | null };

export const logitsFromProbs = (probs: ArrayLike<number>): number[] => Array.from(probs, (p) => Math.log(Math.max(p, MIN_P)));

/** softmax(logits / T). */
export function softmaxWithTemperature(logits: ArrayLike<number>, temperature: number): number[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i] / temperature);
  const e = Array.from(logits, (z) => Math.exp(z / temperature - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/** The top class's probability after scaling by T: what a calibrated confidence of the proposal is. */
export const calibratedConfidence = (probs: ArrayLike<number>, temperature: number): number => Math.max(...softmaxWithTemperature(logitsFromProbs(probs), temperature));

/** Mean negative log-likelihood of the labels under softmax(logits / T). */
export function meanNll(logits: readonly (readonly number[])[], labels: readonly number[], temperature: number): number {
  let total = 0;
  logits.forEach((z, i) => {
    let max = -Infinity;
    for (const v of z) max = Math.max(max, v / temperature);
    let sum = 0;
    for (const v of z) sum += Math.exp(v / temperature - max);
    total += max + Math.log(sum) - z[labels[i]] / temperature;
  });
  return total / Math.max(1, logits.length);
}

/** The T minimising the NLL (golden-section search over log T; NLL is convex in 1/T, hence unimodal in log T). */
export function fitTemperature(logits: readonly (readonly number[])[], labels: readonly number[]): number {
  if (logits.length === 0) return 1;
  const f = (u: number) => meanNll(logits, labels, Math.exp(u));
  let a = Math.log(T_RANGE[0]);
  let b = Math.log(T_RANGE[1]);
  const g = (Math.sqrt(5) - 1) / 2;
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let fc = f(c);
  let fd = f(d);
  while (b - a > 1e-5) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - g * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + g * (b - a);
      fd = f(d);
    }
  }
  return Math.exp((a + b) / 2);
}

/** Reliability bins and the expected calibration error of (top-class confidence, was it right) pairs. */
export function reliability(pairs: readonly { confidence: number; correct: boolean }[], bins = RELIABILITY_BINS): { ece: number; bins: ReliabilityBin[] } {
  const acc = Array.from({ length: bins }, (_, i) => ({ lo: i / bins, hi: (i + 1) / bins, count: 0, conf: 0, right: 0 }));
  for (const p of pairs) {
    const b = acc[Math.min(bins - 1, Math.floor(p.confidence * bins))];
    b.count++;
    b.conf += p.confidence;
    b.right += p.correct ? 1 : 0;
  }
  let ece = 0;
  for (const b of acc) if (b.count > 0) ece += (b.count / Math.max(1, pairs.length)) * Math.abs(b.right / b.count - b.conf / b.count);
  return {
    ece,
    bins: acc.map((b) => ({ lo: b.lo, hi: b.hi, count: b.count, confidence: b.count ? b.conf / b.count : null, accuracy: b.count ? b.right / b.count : null })),
  };
}

function scored(logits: readonly (readonly number[])[], labels: readonly number[], temperatures: readonly number[]) {
  return logits.map((z, i) => {
    const p = softmaxWithTemperature(z, temperatures[i]);
    const top = p.indexOf(Math.max(...p));
    return { confidence: p[top], correct: top === labels[i] };
  });
}

/**
 * Fits T on every example, and measures before / after; "after" uses T fitted without the fold
 * each example is in (k folds by position; callers pass examples in a fixed, label-blind order).
 */
export function calibrate(logits: readonly (readonly number[])[], labels: readonly number[], folds = 5): CalibrationFit {
  const n = logits.length;
  const k = Math.max(2, Math.min(folds, n));
  const temperatureOfFold = Array.from({ length: k }, (_, f) => {
    const keep = logits.map((_, i) => i % k !== f);
    return fitTemperature(logits.filter((_, i) => keep[i]), labels.filter((_, i) => keep[i]));
  });
  const outOfFold = logits.map((_, i) => temperatureOfFold[i % k]);
  const before = reliability(scored(logits, labels, logits.map(() => 1)));
  const after = reliability(scored(logits, labels, outOfFold));
  const nllAfter = logits.reduce((s, z, i) => s + meanNll([z], [labels[i]], outOfFold[i]), 0) / Math.max(1, n);
  return {
    temperature: fitTemperature(logits, labels),
    n,
    folds: k,
    nllBefore: meanNll(logits, labels, 1),
    nllAfter,
    eceBefore: before.ece,
    eceAfter: after.ece,
    reliabilityBefore: before.bins,
    reliabilityAfter: after.bins,
  };
}
