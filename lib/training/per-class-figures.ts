/**
 * Per-class figures of a logging window, for "How it learns": the trainer (lib/ml/per-class.ts)
 * computes them, training_progress.per_class stores them, the web app shows them. Type only, so the
 * screen reads the shape without depending on the trainer.
 *   maskRate[c]  of the unlabeled images whose pseudo-label was c, the share that passed the threshold
 *                (a class whose rate stays at 0 never becomes a training signal: the model does not trust it);
 *   pseudoAcc[c] of the held-out images with human label c whose pseudo-label passed, the share that was right.
 * Null where nothing was seen. `seen` and `passed` are the counts behind maskRate.
 */
export type PerClassFigures = {
  maskRate: (number | null)[];
  pseudoAcc: (number | null)[];
  seen: number[];
  passed: number[];
};
