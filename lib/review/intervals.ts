/**
 * Interval maths for shares measured on samples (precision of proposals on held-out or audited
 * labels). Pure functions, no I/O, so the review page computes the same figures as the server.
 *
 * The Wilson score interval (Wilson 1927) is used rather than the normal approximation p ± z·se:
 * it stays inside [0, 1] and keeps its coverage near 95% at the extremes (10/10 right is not "100% ± 0").
 */

/** z of a two-sided 95% interval. */
export const Z95 = 1.96;

/** 95% Wilson score interval of correct/n, or null for n = 0. */
export function wilsonInterval(correct: number, n: number, z = Z95): [number, number] | null {
  if (n === 0) return null;
  const p = correct / n;
  const z2 = z * z;
  const center = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  return [Math.max(0, center - half), Math.min(1, center + half)];
}

/** The lower end of the Wilson interval, 0 for n = 0. */
export function wilsonLower(correct: number, n: number, z = Z95): number {
  return wilsonInterval(correct, n, z)?.[0] ?? 0;
}

/**
 * The smallest sample that can show precision >= target at all: n answers all right give a Wilson
 * lower bound of n / (n + z²), which reaches `target` once n >= target·z² / (1 - target).
 * For a 95% target that is 73 (30 all right only show >= 88.6%, 20 only >= 83.9%); for 90%, 35; for
 * 80%, 16. One wrong answer among them already fails: then moreToReach says how many more it takes.
 * Infinity for a target of 1 (no finite sample proves perfection).
 */
export function minSampleForTarget(target: number, z = Z95): number {
  if (target <= 0) return 1;
  if (target >= 1) return Infinity;
  let n = Math.max(1, Math.ceil((target * z * z) / (1 - target) - 1e-9));
  // Guard the float edge: the closed form can land one off when target·z²/(1-target) is an integer.
  while (wilsonLower(n, n, z) < target) n++;
  while (n > 1 && wilsonLower(n - 1, n - 1, z) >= target) n--;
  return n;
}

/**
 * How many more answers, all right, would lift correct/n to a Wilson lower bound >= target; 0 when it
 * already is, Infinity beyond `cap` (a sample that would need more than that is better answered by
 * raising the threshold or retraining).
 */
export function moreToReach(correct: number, n: number, target: number, cap = 10_000, z = Z95): number {
  if (wilsonLower(correct, n, z) >= target) return 0;
  if (target >= 1) return Infinity;
  // The bound grows with every right answer: binary search for the first k that reaches it.
  if (wilsonLower(correct + cap, n + cap, z) < target) return Infinity;
  let lo = 1;
  let hi = cap;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (wilsonLower(correct + mid, n + mid, z) >= target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
