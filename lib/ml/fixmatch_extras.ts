/**
 * Two optional additions to FixMatch, both off by default, each with the small state it carries
 * across steps (saved in checkpoints as plain JSON):
 * - distribution alignment (ReMixMatch, Berthelot et al. 2019): multiply the weak-view
 *   probabilities by prior(y) / runningMean(p(y) on unlabeled images) and renormalise, so the
 *   pseudo-labels do not collapse onto the classes the model already favours;
 * - per-class thresholds (FlexMatch, Zhang et al. 2021): a class the model rarely predicts
 *   confidently gets a lower threshold, T(c) = tau * beta(c) / (2 - beta(c)), where beta(c) is
 *   the share of unlabeled images last pseudo-labeled c with confidence >= tau, relative to the
 *   best class (or to the still-unused images while most are unused: the warm-up).
 */
import * as tf from "./tf";

export type DistributionAlignmentState = { runningMean: number[] };

export class DistributionAlignment {
  private runningMean: number[];

  /** `prior`: class frequencies of the labeled images (sums to 1). */
  constructor(
    private readonly prior: readonly number[],
    private readonly momentum = 0.999,
    state?: DistributionAlignmentState,
  ) {
    this.runningMean = state ? [...state.runningMean] : prior.map(() => 1 / prior.length);
  }

  /** prior / runningMean, for fixmatchLoss's `alignment`. Caller disposes. */
  factor(): tf.Tensor1D {
    return tf.tensor1d(this.prior.map((p, c) => p / Math.max(this.runningMean[c], 1e-6)));
  }

  /** Folds in the mean of this batch's (unaligned) weak-view probabilities. */
  update(batchMeanProbs: ArrayLike<number>): void {
    this.runningMean = this.runningMean.map((m, c) => this.momentum * m + (1 - this.momentum) * batchMeanProbs[c]);
  }

  state(): DistributionAlignmentState {
    return { runningMean: [...this.runningMean] };
  }
}

export type FlexThresholdsState = { lastConfidentClass: number[] };

export class FlexThresholds {
  /** Per unlabeled image: the class it was last confidently pseudo-labeled with, or -1. */
  private lastConfidentClass: Int32Array;

  constructor(
    private readonly numClasses: number,
    unlabeledCount: number,
    private readonly tau: number,
    state?: FlexThresholdsState,
  ) {
    this.lastConfidentClass = state ? Int32Array.from(state.lastConfidentClass) : new Int32Array(unlabeledCount).fill(-1);
  }

  thresholds(): number[] {
    const counts = new Array<number>(this.numClasses).fill(0);
    let unused = 0;
    for (const c of this.lastConfidentClass) {
      if (c < 0) unused++;
      else counts[c]++;
    }
    const norm = Math.max(Math.max(...counts), unused, 1);
    return counts.map((n) => {
      const beta = n / norm;
      return (this.tau * beta) / (2 - beta);
    });
  }

  /** For fixmatchLoss's `threshold`. Caller disposes. */
  tensor(): tf.Tensor1D {
    return tf.tensor1d(this.thresholds());
  }

  /** Records this batch: `streamIndex[i]` is image i's position in the unlabeled stream. */
  update(streamIndex: readonly number[], pseudoLabels: ArrayLike<number>, confidence: ArrayLike<number>): void {
    streamIndex.forEach((u, i) => {
      if (confidence[i] >= this.tau) this.lastConfidentClass[u] = pseudoLabels[i];
    });
  }

  state(): FlexThresholdsState {
    return { lastConfidentClass: Array.from(this.lastConfidentClass) };
  }
}
