/**
 * How much evidence a share rests on, and the one way it becomes text. Pure (its one import,
 * intervals.ts, is too): the browser bundle (app/components) uses it as well as the server.
 */
import { wilsonInterval } from "./intervals";

/**
 * Below 10 judged labels a share says next to nothing: at n=10 with 9 right the 95% Wilson interval
 * is already 60-98%, at n=3 with 3 right 44-100%. 10 is the smallest n whose interval is narrower
 * than half the range for any outcome; the interval is still shown above it, so a reader sees n=12
 * is weak too.
 */
export const MIN_EVIDENCE_N = 10;

export { wilsonInterval };

/** A share measured on human labels: k of n, its interval, and whether n is enough to show it. */
export type Proportion = { k: number; n: number; value: number | null; interval: [number, number] | null; enough: boolean };

export function proportion(k: number, n: number): Proportion {
  return { k, n, value: n === 0 ? null : k / n, interval: wilsonInterval(k, n), enough: n >= MIN_EVIDENCE_N };
}

const pct = (x: number) => `${Math.round(100 * x)}%`;

/** "74% [61-84%] (n=40)", or "not enough labels (n=3)": the only way a Proportion becomes text. */
export function formatProportion(p: Pick<Proportion, "value" | "interval" | "n">): string {
  if (p.n < MIN_EVIDENCE_N || p.value === null || p.interval === null) return `not enough labels (n=${p.n})`;
  return `${pct(p.value)} [${Math.round(100 * p.interval[0])}–${pct(p.interval[1])}] (n=${p.n})`;
}

