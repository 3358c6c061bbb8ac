/**
 * The shared part of bench/backbone-transfer.ts and bench/backbone-quality.ts: given a loaded
 * backbone and a labeled image pool, cache the plain and view features (lib/ml/features), draw
 * 4 labels per class per seed, and measure the three heads the app can pick from (linear probe,
 * cosine class mean, FixMatch head on cached views) on the pool: accuracy on the pool's unlabeled
 * images, and how many proposals pass tau and how many of those are right.
 */
import { createHash } from "node:crypto";
import path from "node:path";
import type { AugmentPolicy } from "../lib/ml/augment";
import type { LoadedBackbone } from "../lib/ml/backbones/types";
import {
  argmaxRow,
  classMeanHead,
  extractPlainFeatures,
  extractViewFeatures,
  fitStandardizer,
  HEAD_DEFAULTS,
  headProbs,
  standardize,
  trainFixMatchHead,
  trainLinearProbe,
  type FeatureImage,
  type HeadTrainConfig,
  type LabeledRows,
} from "../lib/ml/features";
import { DEFAULT_TRAIN_CONFIG } from "../lib/ml/config";
import type * as tf from "../lib/ml/tf";

export type PoolScore = {
  /** Accuracy on the pool images that were not labeled. */
  poolAcc: number;
  /** Unlabeled pool images whose top probability is >= tau, and how many of those are right. */
  passing: number;
  right: number;
  seconds: number;
  steps?: number;
  maskRate?: number;
};

/** Scores probabilities [n x C] of the pool against the truth, skipping labeled rows. */
export function scorePool(probs: Float32Array, truth: ArrayLike<number>, numClasses: number, labeledRows: ReadonlySet<number>, tau: number, seconds: number): PoolScore {
  let total = 0;
  let correct = 0;
  let passing = 0;
  let right = 0;
  for (let i = 0; i < truth.length; i++) {
    if (labeledRows.has(i)) continue;
    total++;
    const top = argmaxRow(probs, i, numClasses);
    const ok = top === truth[i];
    if (ok) correct++;
    if (probs[i * numClasses + top] >= tau) {
      passing++;
      if (ok) right++;
    }
  }
  return { poolAcc: correct / Math.max(total, 1), passing, right, seconds };
}

/** Frames of a uint8 pixel array as feature images, named by the hash of their pixels. */
export function framesAsImages(pixels: Uint8Array, frameBytes: number): FeatureImage[] {
  const n = pixels.length / frameBytes;
  return Array.from({ length: n }, (_, i) => {
    const frame = pixels.subarray(i * frameBytes, (i + 1) * frameBytes);
    return { sha256: createHash("sha256").update(frame).digest("hex"), load: async () => frame };
  });
}

export type PoolFeatures = { dim: number; k: number; plain: Float32Array; weak: Float32Array; strong: Float32Array; seconds: { plain: number; views: number } };

export async function poolFeatures(backbone: LoadedBackbone, images: FeatureImage[], dir: string, policy: AugmentPolicy, k: number, log: (line: string) => void): Promise<PoolFeatures> {
  let last = 0;
  const onProgress = (p: { stage: string; done: number; total: number; imagesPerS: number }) => {
    if (performance.now() - last > 15_000 || p.done === p.total) {
      last = performance.now();
      log(`  ${p.stage} features ${p.done}/${p.total} (${p.imagesPerS.toFixed(1)} images/s)`);
    }
  };
  let started = performance.now();
  const plain = await extractPlainFeatures({ backbone, images, dir, onProgress, batchSize: 32 });
  const plainS = (performance.now() - started) / 1000;
  started = performance.now();
  const views = await extractViewFeatures({ backbone, images, dir, views: { policy, k, seed: 0 }, onProgress, batchSize: 32 });
  const viewsS = (performance.now() - started) / 1000;
  return { dim: backbone.featureDim, k, plain, weak: views.weak, strong: views.strong, seconds: { plain: plainS, views: viewsS } };
}

/** The labeled rows for one seed: LABELS_PER_CLASS per class, drawn with a seeded shuffle. */
export function drawLabels(truth: ArrayLike<number>, numClasses: number, perClass: number, seed: number): LabeledRows {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const order = Array.from({ length: truth.length }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const count = new Array<number>(numClasses).fill(0);
  const rows: number[] = [];
  const classes: number[] = [];
  for (const i of order) {
    if (count[truth[i]] < perClass) {
      count[truth[i]]++;
      rows.push(i);
      classes.push(truth[i]);
    }
  }
  return { rows, classes };
}

export type HeadsResult = { "linear-probe": PoolScore; "class-mean": PoolScore; fixmatch: PoolScore };

/** The three heads on one seed's labels; the FixMatch head gets `budgetS` seconds at most. */
export async function scoreHeads(opts: {
  features: PoolFeatures;
  truth: ArrayLike<number>;
  numClasses: number;
  labeled: LabeledRows;
  tau: number;
  head: Partial<HeadTrainConfig>;
  budgetS: number;
  seed: number;
  workDir: string;
}): Promise<HeadsResult> {
  const { features, truth, numClasses, labeled, tau } = opts;
  const { dim } = features;
  const labeledSet = new Set(labeled.rows);
  const st = fitStandardizer(features.plain, dim);
  const z = standardize(features.plain, st);
  const score = (head: tf.LayersModel, started: number) => {
    const probs = headProbs(head, z, dim);
    head.dispose();
    return scorePool(probs, truth, numClasses, labeledSet, tau, (performance.now() - started) / 1000);
  };
  let started = performance.now();
  const probe = score(trainLinearProbe(z, dim, numClasses, labeled), started);
  started = performance.now();
  const classMean = score(classMeanHead(z, dim, numClasses, labeled), started);
  started = performance.now();
  let lastMask = 0;
  const result = await trainFixMatchHead({
    config: { ...DEFAULT_TRAIN_CONFIG, ...HEAD_DEFAULTS, numClasses, seed: opts.seed, steps: 2 ** 30, timeBudgetS: Number.isFinite(opts.budgetS) ? opts.budgetS : null, checkpointEvery: 2 ** 30, ...opts.head },
    features: { dim, k: features.k, plain: z, weak: standardize(features.weak, st), strong: standardize(features.strong, st) },
    labeled,
    heldOut: { rows: [], classes: [] },
    unlabeled: Array.from({ length: truth.length }, (_, i) => i),
    dir: path.join(opts.workDir, `head-${opts.seed}-${Date.now()}`),
    onProgress: (p) => (lastMask = p.maskRate),
  });
  const fixmatch = { ...score(result.head, started), steps: result.step, maskRate: lastMask };
  return { "linear-probe": probe, "class-mean": classMean, fixmatch };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function formatScore(name: string, s: PoolScore): string {
  const precision = s.passing > 0 ? `${((100 * s.right) / s.passing).toFixed(1)}%` : "-";
  const extra = s.steps !== undefined ? `  steps ${s.steps}${s.maskRate !== undefined ? ` mask ${(100 * s.maskRate).toFixed(0)}%` : ""}` : "";
  return `${name.padEnd(22)} pool ${(100 * s.poolAcc).toFixed(1)}%  above tau ${s.passing} (right ${s.right}, ${precision})  ${s.seconds.toFixed(1)} s${extra}`;
}
