/**
 * One FixMatch step's forward and backward pass, in one of two ways that give the same loss:
 *
 * - "together" (the paper, the default): labeled, weak and strong views in ONE forward pass, so
 *   batch norm normalises with statistics of all of them; the backward pass runs through all
 *   B + 2*mu*B images, though the weak views get no gradient (stop-gradient on the pseudo-labels)
 *   and the masked-out strong views a zero one.
 * - "pseudo-label first" (`pseudoLabelFirst`, a CPU option): the weak views go through the network
 *   first, in training mode but outside the gradient tape; the mask is read; then only the
 *   labeled views and the strong views whose pseudo-label passed the threshold go through the
 *   forward and backward pass. The unlabeled loss is still the mean over all mu*B images (the
 *   masked-out ones' zero terms are just not computed), so the loss and its gradient are the
 *   paper's; what differs is batch norm, which sees the weak views in a batch of their own and
 *   the rest in another. Early in a run, when almost nothing passes the threshold, a step costs
 *   about a third of the "together" step (measured in bench/fashion-mnist.ts).
 */
import { fixmatchLoss, pseudoLabel, type FixMatchLoss } from "./fixmatch";
import * as tf from "./tf";

export type StepViews = {
  /** Weak views of the B labeled images, and their int32 classes. */
  labeled: tf.Tensor4D;
  labels: tf.Tensor1D;
  /** Weak and strong views of the same mu*B unlabeled images, in the same order. */
  weak: tf.Tensor4D;
  strong: tf.Tensor4D;
};

export type StepOptions = {
  threshold: number | tf.Tensor1D;
  lambdaU: number;
  alignment?: tf.Tensor1D;
  pseudoLabelFirst: boolean;
  /** Pseudo-label first only: run every strong view anyway (a step whose strong predictions are recorded). */
  allStrongViews?: boolean;
};

export type StepResult = {
  loss: tf.Scalar;
  grads: tf.NamedTensorMap;
  /** The loss's parts; kept past the gradient closure, disposed by the caller (disposeStep). */
  out: FixMatchLoss;
  /** Strong-view logits of all mu*B images (zero rows for masked-out views not run "pseudo-label first"). */
  logitsStrong: tf.Tensor2D;
  /** Weak-view logits of the mu*B images (before any distribution alignment). */
  logitsWeak: tf.Tensor2D;
  /** Images that went through the network this step (forward passes). */
  imagesForward: number;
};

type Model = { apply: (x: tf.Tensor, kwargs: { training: boolean }) => tf.Tensor | tf.Tensor[] | unknown };

function forward(model: Model, x: tf.Tensor): tf.Tensor2D {
  return model.apply(x, { training: true }) as tf.Tensor2D;
}

export function fixmatchStep(model: Model, trainable: tf.Variable[], views: StepViews, opts: StepOptions): StepResult {
  const batchSize = views.labeled.shape[0];
  const unlabeledCount = views.weak.shape[0];
  const lossOptions = { labels: views.labels, threshold: opts.threshold, lambdaU: opts.lambdaU, alignment: opts.alignment };
  let out: FixMatchLoss | undefined;
  let logitsStrong: tf.Tensor2D | undefined;
  let weakKept: tf.Tensor2D | undefined;

  if (!opts.pseudoLabelFirst) {
    const inputs = tf.concat([views.labeled, views.weak, views.strong]);
    const { value: loss, grads } = tf.variableGrads(() => {
      const [logitsLabeled, logitsWeak, strong] = tf.split(forward(model, inputs), [batchSize, unlabeledCount, unlabeledCount]) as tf.Tensor2D[];
      out = keepAll(fixmatchLoss({ ...lossOptions, logitsLabeled, logitsWeak, logitsStrong: strong }));
      logitsStrong = tf.keep(strong);
      weakKept = tf.keep(logitsWeak);
      return out.loss;
    }, trainable);
    inputs.dispose();
    return { loss, grads, out: out!, logitsStrong: logitsStrong!, logitsWeak: weakKept!, imagesForward: batchSize + 2 * unlabeledCount };
  }

  const logitsWeak = tf.tidy(() => forward(model, views.weak));
  const maskTensor = tf.tidy(() => pseudoLabel(logitsWeak, opts.threshold, opts.alignment).mask);
  const mask = maskTensor.dataSync();
  maskTensor.dispose();
  const rows = [...mask.keys()].filter((i) => opts.allStrongViews || mask[i] !== 0);
  // A constant (mu*B x rows) 0/1 matrix that puts row k of the strong logits back at position
  // rows[k]; masked-out positions get zero logits, which the mask multiplies by zero.
  const scatter = rows.length > 0 ? tf.tidy(() => tf.transpose(tf.cast(tf.oneHot(tf.tensor1d(rows, "int32"), unlabeledCount), "float32"))) : null;
  const inputs = tf.tidy(() => (rows.length > 0 ? tf.concat([views.labeled, tf.gather(views.strong, rows)]) : tf.clone(views.labeled)));
  const { value: loss, grads } = tf.variableGrads(() => {
    const logits = forward(model, inputs);
    const numClasses = logits.shape[1];
    let logitsLabeled = logits;
    let strong: tf.Tensor2D = tf.zeros([unlabeledCount, numClasses]);
    if (scatter) {
      const [labeledPart, strongPart] = tf.split(logits, [batchSize, rows.length]) as tf.Tensor2D[];
      logitsLabeled = labeledPart;
      strong = tf.matMul(scatter, strongPart);
    }
    out = keepAll(fixmatchLoss({ ...lossOptions, logitsLabeled, logitsWeak, logitsStrong: strong }));
    logitsStrong = tf.keep(strong);
    return out.loss;
  }, trainable);
  tf.dispose([inputs, scatter] as tf.Tensor[]);
  return { loss, grads, out: out!, logitsStrong: logitsStrong!, logitsWeak, imagesForward: batchSize + unlabeledCount + rows.length };
}

function keepAll(out: FixMatchLoss): FixMatchLoss {
  for (const t of Object.values(out)) tf.keep(t);
  return out;
}

/** Frees everything a step returned. */
export function disposeStep(step: StepResult): void {
  tf.dispose([step.loss, step.grads, step.logitsStrong, step.logitsWeak, ...Object.values(step.out)] as tf.Tensor[]);
}
