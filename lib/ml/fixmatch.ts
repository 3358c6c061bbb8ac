/**
 * FixMatch (Sohn et al. 2020, arXiv 2001.07685): the loss and its defaults, nothing else.
 * Data, augmentation, the model, the optimizer and the loop live in their own modules
 * (data.ts, augment/, models/, optim.ts, train.ts), as in google-research/fixmatch.
 *
 *   loss = CE(labels, labeled logits)
 *        + lambdaU * mean over ALL mu*B unlabeled images of  mask * CE(pseudo-label, strong logits)
 *   pseudo-label = argmax softmax(weak logits), with no gradient flowing back into the weak view
 *   mask         = max softmax(weak logits) >= threshold
 */
import * as tf from "./tf";

export const FIXMATCH_DEFAULTS = {
  /** tau: confidence a weak view's prediction needs to become a pseudo-label. */
  threshold: 0.95,
  /** Weight of the unlabeled (consistency) loss. */
  lambdaU: 1,
  /** Unlabeled images per labeled image in a batch. */
  mu: 7,
  /** Labeled images per batch (B); each step also sees mu * B unlabeled ones. */
  batchSize: 64,
  lr: 0.03,
  momentum: 0.9,
  nesterov: true,
  /** L2 on conv and dense kernels only. */
  weightDecay: 5e-4,
  /** Decay of the weight average that is evaluated and used for predictions. */
  emaDecay: 0.999,
} as const;

/** The paper's cosine decay: lr * cos(7 pi k / (16 K)) at step k of K (ends at ~0.2 lr, not 0). */
export function cosineLr(baseLr: number, step: number, totalSteps: number): number {
  return baseLr * Math.cos((7 * Math.PI * step) / (16 * totalSteps));
}

/** Per-image cross-entropy of integer labels against logits. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => tf.neg(tf.sum(tf.mul(tf.oneHot(labels, logits.shape[1]), tf.logSoftmax(logits)), -1)) as tf.Tensor1D);
}

/** Identity forward, zero gradient backward (tf.stop_gradient; tfjs has no such op). */
const stopGradient = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
  value: tf.clone(args[0] as tf.Tensor),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as <T extends tf.Tensor>(x: T) => T;

export type FixMatchLossInput = {
  logitsLabeled: tf.Tensor2D;
  /** int32 class indices of the labeled images. */
  labels: tf.Tensor1D;
  /** Logits of the weak and of the strong view of the same mu*B unlabeled images, in the same order. */
  logitsWeak: tf.Tensor2D;
  logitsStrong: tf.Tensor2D;
  /** One threshold, or one per class (FlexMatch, see fixmatch_extras.ts) applied by pseudo-label. */
  threshold: number | tf.Tensor1D;
  lambdaU: number;
  /** Distribution alignment (off when absent): weak probabilities are multiplied by this per-class factor and renormalised. */
  alignment?: tf.Tensor1D;
};

export type FixMatchLoss = {
  loss: tf.Scalar;
  supervised: tf.Scalar;
  unsupervised: tf.Scalar;
  /** Fraction of unlabeled images whose pseudo-label passed the threshold. */
  maskRate: tf.Scalar;
  pseudoLabels: tf.Tensor1D;
  mask: tf.Tensor1D;
  /** The (aligned) weak-view probabilities the pseudo-labels came from; carry no gradient. */
  weakProbs: tf.Tensor2D;
  /** Per unlabeled image: CE(pseudo-label, strong logits), before the mask (the loss sums mask * this / (mu*B)). */
  strongCe: tf.Tensor1D;
};

export type PseudoLabels = {
  /** The (aligned) weak-view probabilities the pseudo-labels come from; carry no gradient. */
  weakProbs: tf.Tensor2D;
  pseudoLabels: tf.Tensor1D;
  /** 1 where the weak view's confidence reaches the threshold of its pseudo-label, else 0. */
  mask: tf.Tensor1D;
};

/** Pseudo-labels and mask from the weak views' logits (stop-gradient), as the loss uses them. */
export function pseudoLabel(logitsWeak: tf.Tensor2D, threshold: number | tf.Tensor1D, alignment?: tf.Tensor1D): PseudoLabels {
  return tf.tidy(() => {
    let weakProbs = tf.softmax(stopGradient(logitsWeak)) as tf.Tensor2D;
    if (alignment) {
      const aligned = tf.mul(weakProbs, alignment);
      weakProbs = tf.div(aligned, tf.sum(aligned, -1, true)) as tf.Tensor2D;
    }
    const confidence = tf.max(weakProbs, -1) as tf.Tensor1D;
    const pseudoLabels = tf.argMax(weakProbs, -1) as tf.Tensor1D;
    // Per-class thresholds are picked with a one-hot product, not tf.gather: gather's gradient
    // for int32 indices is rejected by tfjs's tape, which this op sits on.
    const perImageThreshold =
      typeof threshold === "number" ? tf.scalar(threshold) : tf.sum(tf.mul(tf.oneHot(pseudoLabels, logitsWeak.shape[1]), threshold), -1);
    const mask = tf.cast(tf.greaterEqual(confidence, perImageThreshold), "float32") as tf.Tensor1D;
    return { weakProbs, pseudoLabels, mask };
  });
}

export function fixmatchLoss(input: FixMatchLossInput): FixMatchLoss {
  const { logitsLabeled, labels, logitsWeak, logitsStrong, threshold, lambdaU, alignment } = input;
  return tf.tidy(() => {
    const supervised = tf.mean(crossEntropy(logitsLabeled, labels)) as tf.Scalar;
    const { weakProbs, pseudoLabels, mask } = pseudoLabel(logitsWeak, threshold, alignment);
    // The mean runs over all mu*B images, masked-out ones counting as zero: fewer confident
    // pseudo-labels means a smaller unlabeled loss, not a noisier average over a few.
    const strongCe = crossEntropy(logitsStrong, pseudoLabels);
    const unsupervised = tf.mean(tf.mul(mask, strongCe)) as tf.Scalar;
    return {
      loss: tf.add(supervised, tf.mul(lambdaU, unsupervised)) as tf.Scalar,
      supervised,
      unsupervised,
      maskRate: tf.mean(mask) as tf.Scalar,
      pseudoLabels,
      mask,
      weakProbs,
      strongCe,
    };
  });
}
