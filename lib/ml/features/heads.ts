/**
 * Small classifiers over backbone features, all of them plain tfjs layers models [N, dim] -> logits
 * (Dense layers only), so the same code predicts with any of them and the export composes any of
 * them with the backbone (backbone -> head -> softmax):
 * - "linear-probe": softmax regression on the labeled plain features, L2-penalised, full batch;
 * - "class-mean": nearest class mean by cosine similarity; `logit_c = T * x . m_c / (|m_c| r)`,
 *   where r is the pool's mean feature norm: the argmax is exactly the cosine nearest mean (|x| is
 *   common to all classes), only the softmax's sharpness varies with |x|;
 * - "fixmatch": the FixMatch head (head-train.ts), linear or with one hidden layer.
 * All train on standardised features ((x - mean) / std per feature, over the pool), which makes one
 * learning rate and one L2 weight fit any backbone; `foldStandardizer` moves the standardisation
 * into the first Dense layer, so a saved head takes the backbone's raw features.
 */
import * as tf from "../tf";

export type HeadKind = "fixmatch" | "linear-probe" | "class-mean";

export type Standardizer = { mean: Float32Array; std: Float32Array };

/** Mean and standard deviation of each feature over the rows (std floored: a dead feature stays 0). */
export function fitStandardizer(features: Float32Array, dim: number): Standardizer {
  const n = features.length / dim;
  const mean = new Float32Array(dim);
  const sq = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d] += features[i * dim + d] / n;
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) {
      const c = features[i * dim + d] - mean[d];
      sq[d] += c * c;
    }
  }
  const std = Float32Array.from(sq, (s) => Math.max(Math.sqrt(s / Math.max(n, 1)), 1e-6));
  return { mean, std };
}

export function standardize(features: Float32Array, st: Standardizer): Float32Array {
  const dim = st.mean.length;
  return features.map((v, i) => (v - st.mean[i % dim]) / st.std[i % dim]);
}

/** Dense layers: dim -> (hidden, relu) -> numClasses logits. */
export function buildHead(dim: number, numClasses: number, hidden = 0, seed?: number): tf.LayersModel {
  const init = (s: number) => tf.initializers.glorotUniform({ seed: seed === undefined ? undefined : seed + s });
  const model = tf.sequential({ name: "fixlabel_head" });
  if (hidden > 0) model.add(tf.layers.dense({ inputShape: [dim], units: hidden, activation: "relu", name: "head_hidden", kernelInitializer: init(0) }));
  model.add(tf.layers.dense({ ...(hidden > 0 ? {} : { inputShape: [dim] }), units: numClasses, name: "head_logits", kernelInitializer: init(1) }));
  return model;
}

/**
 * The same function of RAW features as `head` is of standardised ones: the first Dense layer's
 * kernel W becomes W / std (row-wise) and its bias b - (mean / std) . W. A new model; `head` is kept.
 */
export function foldStandardizer(head: tf.LayersModel, st: Standardizer): tf.LayersModel {
  const hidden = head.layers.length > 1 ? (head.layers[0].getConfig().units as number) : 0;
  const dim = st.mean.length;
  const numClasses = head.outputs[0].shape[1] as number;
  const folded = buildHead(dim, numClasses, hidden);
  const weights = head.getWeights().map((w) => w.dataSync() as Float32Array);
  const [kernel, bias] = weights;
  const units = bias.length;
  const newKernel = new Float32Array(kernel.length);
  const newBias = Float32Array.from(bias);
  for (let d = 0; d < dim; d++) {
    for (let u = 0; u < units; u++) {
      newKernel[d * units + u] = kernel[d * units + u] / st.std[d];
      newBias[u] -= (st.mean[d] / st.std[d]) * kernel[d * units + u];
    }
  }
  const values = [newKernel, newBias, ...weights.slice(2)];
  tf.tidy(() => folded.setWeights(folded.weights.map((w, i) => tf.tensor(values[i], w.shape as number[]))));
  return folded;
}

export type LabeledRows = { rows: readonly number[]; classes: readonly number[] };

export type ProbeOptions = {
  /** L2 weight: loss = mean CE + l2 / 2 * |W|^2 (the bias is not penalised). */
  l2?: number;
  steps?: number;
  lr?: number;
};

export const PROBE_DEFAULTS = { l2: 0.01, steps: 300, lr: 0.1 } as const;

function gatherRows(x: Float32Array, dim: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => out.set(x.subarray(r * dim, (r + 1) * dim), i * dim));
  return out;
}

/** The probe's objective at (kernel, bias), for tests and for the optimiser alike. */
export function probeLoss(x: tf.Tensor2D, labels: tf.Tensor1D, kernel: tf.Tensor2D, bias: tf.Tensor1D, l2: number, numClasses: number): tf.Scalar {
  return tf.tidy(() => {
    const logits = tf.add(tf.matMul(x, kernel), bias);
    const ce = tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(labels, numClasses), tf.logSoftmax(logits)), -1)));
    return tf.add(ce, tf.mul(l2 / 2, tf.sum(tf.square(kernel)))) as tf.Scalar;
  });
}

/**
 * Softmax regression on standardised features: full-batch Adam from zero weights, so the same
 * labels always give the same probe. Returns a linear head (standardised space).
 */
export function trainLinearProbe(x: Float32Array, dim: number, numClasses: number, labeled: LabeledRows, options: ProbeOptions = {}): tf.LayersModel {
  const { l2, steps, lr } = { ...PROBE_DEFAULTS, ...options };
  if (labeled.rows.length === 0) throw new Error("the linear probe needs labeled images");
  const kernel = tf.variable(tf.zeros([dim, numClasses]));
  const bias = tf.variable(tf.zeros([numClasses]));
  const inputs = tf.tensor2d(gatherRows(x, dim, labeled.rows), [labeled.rows.length, dim]);
  const labels = tf.tensor1d(labeled.classes as number[], "int32");
  const optimizer = tf.train.adam(lr);
  try {
    for (let s = 0; s < steps; s++) {
      const loss = optimizer.minimize(() => probeLoss(inputs, labels, kernel as tf.Variable<tf.Rank.R2>, bias as tf.Variable<tf.Rank.R1>, l2, numClasses), true, [kernel, bias]);
      loss?.dispose();
    }
    const head = buildHead(dim, numClasses);
    head.setWeights([kernel, bias]);
    return head;
  } finally {
    tf.dispose([kernel, bias, inputs, labels]);
    optimizer.dispose();
  }
}

/** Sharpness of the class-mean head's softmax: cosine 1 vs 0 is e^10 in odds. */
export const CLASS_MEAN_TEMPERATURE = 10;

/**
 * Nearest class mean by cosine on standardised features, as a linear head (see the module comment).
 * A class without labels gets a zero mean (logit 0).
 */
export function classMeanHead(x: Float32Array, dim: number, numClasses: number, labeled: LabeledRows, poolRows?: readonly number[]): tf.LayersModel {
  const means = new Float32Array(numClasses * dim);
  const counts = new Array<number>(numClasses).fill(0);
  labeled.rows.forEach((r, i) => {
    const c = labeled.classes[i];
    counts[c]++;
    for (let d = 0; d < dim; d++) means[c * dim + d] += x[r * dim + d];
  });
  const rows = poolRows ?? Array.from({ length: x.length / dim }, (_, i) => i);
  let meanNorm = 0;
  for (const r of rows) meanNorm += Math.hypot(...x.subarray(r * dim, (r + 1) * dim)) / rows.length;
  const kernel = new Float32Array(dim * numClasses);
  for (let c = 0; c < numClasses; c++) {
    const m = means.subarray(c * dim, (c + 1) * dim);
    const norm = Math.hypot(...m);
    if (counts[c] === 0 || norm === 0) continue;
    for (let d = 0; d < dim; d++) kernel[d * numClasses + c] = (CLASS_MEAN_TEMPERATURE * m[d]) / (norm * Math.max(meanNorm, 1e-6));
  }
  const head = buildHead(dim, numClasses);
  tf.tidy(() => head.setWeights([tf.tensor2d(kernel, [dim, numClasses]), tf.zeros([numClasses])]));
  return head;
}

/** Softmax probabilities of `head` on the given rows of x: [rows x numClasses]. */
export function headProbs(head: tf.LayersModel, x: Float32Array, dim: number, rows?: readonly number[], batchSize = 4096): Float32Array {
  const all = rows ?? Array.from({ length: x.length / dim }, (_, i) => i);
  const numClasses = head.outputs[0].shape[1] as number;
  const out = new Float32Array(all.length * numClasses);
  for (let start = 0; start < all.length; start += batchSize) {
    const part = all.slice(start, start + batchSize);
    const probs = tf.tidy(() => tf.softmax(head.predict(tf.tensor2d(gatherRows(x, dim, part), [part.length, dim])) as tf.Tensor2D));
    out.set(probs.dataSync(), start * numClasses);
    probs.dispose();
  }
  return out;
}

export function argmaxRow(probs: Float32Array, row: number, numClasses: number): number {
  let best = 0;
  for (let c = 1; c < numClasses; c++) if (probs[row * numClasses + c] > probs[row * numClasses + best]) best = c;
  return best;
}

/** Share of labeled rows the head classifies right (null with none). */
export function headAccuracy(head: tf.LayersModel, x: Float32Array, dim: number, labeled: LabeledRows): number | null {
  if (labeled.rows.length === 0) return null;
  const numClasses = head.outputs[0].shape[1] as number;
  const probs = headProbs(head, x, dim, labeled.rows);
  return labeled.classes.filter((c, i) => argmaxRow(probs, i, numClasses) === c).length / labeled.rows.length;
}
