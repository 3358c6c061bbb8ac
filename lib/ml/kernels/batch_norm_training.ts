/**
 * Batch normalization in training mode as one kernel with one gradient kernel, for the wasm backend.
 *
 * What tf.layers.batchNormalization runs in training is moments (Mean, Sub, Square, Mean) then
 * FusedBatchNorm, and its backward walks all of those: about twenty elementwise kernels and
 * reductions over the full [N, H, W, C] activation per layer, plus the tape's gradient adds for x,
 * which feeds three of them. This computes the same thing in four passes over the activations:
 *
 *   forward   1. per channel c, the sum and sum of squares of x (shifted by x's first row, in
 *                double precision, so the one-pass variance does not cancel)
 *             2. y = x * scale[c] + shift[c], scale = gamma / sqrt(var + eps), shift = beta - mean * scale
 *   backward  1. per channel, sum(dy) and sum(dy * (x - mean))
 *             2. dx = a[c] * dy + b[c] * x + d[c], the closed form of
 *                gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)) (+ the terms from any
 *                gradient flowing into the batch mean and variance outputs themselves), and
 *                dgamma = sum(dy * xhat), dbeta = sum(dy).
 * Mean and variance are over every axis but the last (channels), variance biased (divided by the
 * count), exactly as tf.moments and the layer's moving averages use them.
 *
 * The loops are plain JavaScript over the wasm heap (the backend's typedArrayFromHeap, as its own
 * Identity and Cast kernels do): per element they do a handful of flops, so the cost is memory
 * traffic, and four passes beat twenty wasm kernels that each read and write a full tensor.
 * Arithmetic is in doubles (JavaScript numbers); only inputs and outputs are float32.
 */
import * as tf from "../tf";
import { type KernelArgs, type TensorInfo } from "./wasm_kernel_utils";

export const BATCH_NORM_TRAINING = "FixLabelBatchNormTraining";
export const BATCH_NORM_TRAINING_GRAD = "FixLabelBatchNormTrainingGrad";

export type BatchNormTrainingAttrs = { varianceEpsilon: number };

/** The two wasm-backend methods these kernels use (tfjs-backend-wasm's BackendWasm has both). */
type HeapBackend = {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
};

function heap(backend: tf.KernelBackend): HeapBackend {
  return backend as unknown as HeapBackend;
}

function channelsOf(x: TensorInfo): number {
  const c = x.shape[x.shape.length - 1];
  if (x.shape.length < 2 || c == null || c < 1) throw new Error(`batch norm needs [..., channels] input, got [${x.shape.join(", ")}]`);
  return c;
}

/**
 * Loop layout shared by the four passes. Element (row r, channel k) is at r * c + k. Walking it
 * row by row with per-channel arrays of accumulators makes V8 load and store those arrays every
 * element; instead each pass takes ROW_BLOCK rows at a time (a few KB, in L1 cache) and, within
 * the block, four channels at a time down the rows, keeping their accumulators and coefficients
 * in local variables. Measured 2-3x faster than the plain loop for 32-128 channels.
 */
const ROW_BLOCK = 16;

/**
 * Batch statistics and the normalized output: y (may be x itself), and per channel the batch
 * mean and biased variance.
 */
export function batchNormTrainingForward(
  x: Float32Array,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  varianceEpsilon: number,
  y: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
): void {
  const c = mean.length;
  const rows = x.length / c;
  // Sums of x - x[0, k] rather than of x: the one-pass variance E[d^2] - E[d]^2 then has nothing
  // large to cancel even when a channel's mean is far from zero.
  const shift = Float64Array.from(x.subarray(0, c));
  const sum = new Float64Array(c);
  const sumSq = new Float64Array(c);
  for (let r0 = 0; r0 < rows; r0 += ROW_BLOCK) {
    const end = Math.min(rows, r0 + ROW_BLOCK) * c;
    let k = 0;
    for (; k + 4 <= c; k += 4) {
      const h0 = shift[k], h1 = shift[k + 1], h2 = shift[k + 2], h3 = shift[k + 3];
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, q0 = 0, q1 = 0, q2 = 0, q3 = 0;
      for (let i = r0 * c + k; i < end; i += c) {
        const d0 = x[i] - h0, d1 = x[i + 1] - h1, d2 = x[i + 2] - h2, d3 = x[i + 3] - h3;
        s0 += d0; s1 += d1; s2 += d2; s3 += d3;
        q0 += d0 * d0; q1 += d1 * d1; q2 += d2 * d2; q3 += d3 * d3;
      }
      sum[k] += s0; sum[k + 1] += s1; sum[k + 2] += s2; sum[k + 3] += s3;
      sumSq[k] += q0; sumSq[k + 1] += q1; sumSq[k + 2] += q2; sumSq[k + 3] += q3;
    }
    for (; k < c; k++) {
      const h = shift[k];
      let s = 0, q = 0;
      for (let i = r0 * c + k; i < end; i += c) {
        const d = x[i] - h;
        s += d;
        q += d * d;
      }
      sum[k] += s;
      sumSq[k] += q;
    }
  }
  const scale = new Float64Array(c);
  const offset = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    const meanShifted = sum[k] / rows;
    const m = shift[k] + meanShifted;
    const v = Math.max(0, sumSq[k] / rows - meanShifted * meanShifted);
    mean[k] = m;
    variance[k] = v;
    scale[k] = gamma[k] / Math.sqrt(v + varianceEpsilon);
    offset[k] = beta[k] - m * scale[k];
  }
  for (let r0 = 0; r0 < rows; r0 += ROW_BLOCK) {
    const end = Math.min(rows, r0 + ROW_BLOCK) * c;
    let k = 0;
    for (; k + 4 <= c; k += 4) {
      const a0 = scale[k], a1 = scale[k + 1], a2 = scale[k + 2], a3 = scale[k + 3];
      const b0 = offset[k], b1 = offset[k + 1], b2 = offset[k + 2], b3 = offset[k + 3];
      for (let i = r0 * c + k; i < end; i += c) {
        y[i] = x[i] * a0 + b0;
        y[i + 1] = x[i + 1] * a1 + b1;
        y[i + 2] = x[i + 2] * a2 + b2;
        y[i + 3] = x[i + 3] * a3 + b3;
      }
    }
    for (; k < c; k++) {
      const a = scale[k], b = offset[k];
      for (let i = r0 * c + k; i < end; i += c) y[i] = x[i] * a + b;
    }
  }
}

/**
 * Gradients of batchNormTrainingForward: dx (may be dy itself), dgamma, dbeta. `dMean` and
 * `dVariance` are the gradients arriving at the batch-statistic outputs (zeros when, as in
 * tf.layers, only the moving averages read them).
 */
export function batchNormTrainingBackward(
  dy: Float32Array,
  x: Float32Array,
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
  gamma: ArrayLike<number>,
  dMean: ArrayLike<number>,
  dVariance: ArrayLike<number>,
  varianceEpsilon: number,
  dx: Float32Array,
  dGamma: Float32Array,
  dBeta: Float32Array,
): void {
  const c = mean.length;
  const rows = x.length / c;
  const m = Float64Array.from(mean);
  const sumDy = new Float64Array(c);
  const sumDyCentered = new Float64Array(c);
  for (let r0 = 0; r0 < rows; r0 += ROW_BLOCK) {
    const end = Math.min(rows, r0 + ROW_BLOCK) * c;
    let k = 0;
    for (; k + 4 <= c; k += 4) {
      const m0 = m[k], m1 = m[k + 1], m2 = m[k + 2], m3 = m[k + 3];
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, p0 = 0, p1 = 0, p2 = 0, p3 = 0;
      for (let i = r0 * c + k; i < end; i += c) {
        const g0 = dy[i], g1 = dy[i + 1], g2 = dy[i + 2], g3 = dy[i + 3];
        s0 += g0; s1 += g1; s2 += g2; s3 += g3;
        p0 += g0 * (x[i] - m0); p1 += g1 * (x[i + 1] - m1); p2 += g2 * (x[i + 2] - m2); p3 += g3 * (x[i + 3] - m3);
      }
      sumDy[k] += s0; sumDy[k + 1] += s1; sumDy[k + 2] += s2; sumDy[k + 3] += s3;
      sumDyCentered[k] += p0; sumDyCentered[k + 1] += p1; sumDyCentered[k + 2] += p2; sumDyCentered[k + 3] += p3;
    }
    for (; k < c; k++) {
      const mk = m[k];
      let s = 0, p = 0;
      for (let i = r0 * c + k; i < end; i += c) {
        s += dy[i];
        p += dy[i] * (x[i] - mk);
      }
      sumDy[k] += s;
      sumDyCentered[k] += p;
    }
  }
  const a = new Float64Array(c);
  const b = new Float64Array(c);
  const d = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    const invStd = 1 / Math.sqrt(variance[k] + varianceEpsilon);
    const sumDyXhat = sumDyCentered[k] * invStd;
    dGamma[k] = sumDyXhat;
    dBeta[k] = sumDy[k];
    a[k] = gamma[k] * invStd;
    // dx = a*dy - a*mean(dy) - a*invStd*xc*mean(dy*xhat) + dMean/rows + 2*dVariance*xc/rows, with
    // xc = x - mean: a*dy + b*x + d once the per-channel terms are gathered.
    b[k] = (-a[k] * invStd * sumDyXhat + 2 * dVariance[k]) / rows;
    d[k] = (-a[k] * sumDy[k] + dMean[k]) / rows - b[k] * m[k];
  }
  for (let r0 = 0; r0 < rows; r0 += ROW_BLOCK) {
    const end = Math.min(rows, r0 + ROW_BLOCK) * c;
    let k = 0;
    for (; k + 4 <= c; k += 4) {
      const a0 = a[k], a1 = a[k + 1], a2 = a[k + 2], a3 = a[k + 3];
      const b0 = b[k], b1 = b[k + 1], b2 = b[k + 2], b3 = b[k + 3];
      const d0 = d[k], d1 = d[k + 1], d2 = d[k + 2], d3 = d[k + 3];
      for (let i = r0 * c + k; i < end; i += c) {
        dx[i] = a0 * dy[i] + b0 * x[i] + d0;
        dx[i + 1] = a1 * dy[i + 1] + b1 * x[i + 1] + d1;
        dx[i + 2] = a2 * dy[i + 2] + b2 * x[i + 2] + d2;
        dx[i + 3] = a3 * dy[i + 3] + b3 * x[i + 3] + d3;
      }
    }
    for (; k < c; k++) {
      const ak = a[k], bk = b[k], dk = d[k];
      for (let i = r0 * c + k; i < end; i += c) dx[i] = ak * dy[i] + bk * x[i] + dk;
    }
  }
}

function float32(backend: HeapBackend, t: TensorInfo): Float32Array {
  if (t.dtype !== "float32") throw new Error(`batch norm kernels take float32, got ${t.dtype}`);
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/** inputs x [..., C], gamma [C], beta [C] -> outputs y, mean [C], variance [C]. */
export function batchNormTrainingWasm({ inputs, backend, attrs }: KernelArgs): TensorInfo[] {
  const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  const { varianceEpsilon } = attrs as unknown as BatchNormTrainingAttrs;
  const c = channelsOf(x);
  const b = heap(backend);
  // Allocate every output before taking views: an allocation may grow (and detach) the heap.
  const y = b.makeOutput(x.shape, "float32");
  const mean = b.makeOutput([c], "float32");
  const variance = b.makeOutput([c], "float32");
  batchNormTrainingForward(
    float32(b, x),
    float32(b, gamma),
    float32(b, beta),
    varianceEpsilon,
    float32(b, y),
    float32(b, mean),
    float32(b, variance),
  );
  return [y, mean, variance];
}

/** inputs dy, x, mean, variance, gamma, dMean, dVariance -> outputs dx, dGamma, dBeta. */
export function batchNormTrainingGradWasm({ inputs, backend, attrs }: KernelArgs): TensorInfo[] {
  const { dy, x, mean, variance, gamma, dMean, dVariance } = inputs as Record<string, TensorInfo>;
  const { varianceEpsilon } = attrs as unknown as BatchNormTrainingAttrs;
  const c = channelsOf(x);
  const b = heap(backend);
  const dx = b.makeOutput(x.shape, "float32");
  const dGamma = b.makeOutput([c], "float32");
  const dBeta = b.makeOutput([c], "float32");
  batchNormTrainingBackward(
    float32(b, dy),
    float32(b, x),
    float32(b, mean),
    float32(b, variance),
    float32(b, gamma),
    float32(b, dMean),
    float32(b, dVariance),
    varianceEpsilon,
    float32(b, dx),
    float32(b, dGamma),
    float32(b, dBeta),
  );
  return [dx, dGamma, dBeta];
}

export const batchNormTrainingGrad: tf.GradConfig = {
  kernelName: BATCH_NORM_TRAINING,
  inputsToSave: ["x", "gamma"],
  outputsToSave: [false, true, true],
  gradFunc: (dys, saved, attrs) => {
    const [dy, dMean, dVariance] = dys as tf.Tensor[];
    const [x, gamma, mean, variance] = saved;
    const [dx, dGamma, dBeta] = tf.engine().runKernel(
      BATCH_NORM_TRAINING_GRAD,
      { dy, x, mean, variance, gamma, dMean, dVariance },
      attrs as tf.NamedAttrMap,
    ) as tf.Tensor[];
    return { x: () => dx, gamma: () => dGamma, beta: () => dBeta };
  },
};

/**
 * y, batch mean and batch variance of x over all axes but the last; runs the kernel above (only
 * the wasm backend has it: callers check hasBatchNormTrainingKernel()).
 */
export function batchNormTraining(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, varianceEpsilon: number): [tf.Tensor, tf.Tensor1D, tf.Tensor1D] {
  const attrs: BatchNormTrainingAttrs = { varianceEpsilon };
  return tf.engine().runKernel(BATCH_NORM_TRAINING, { x, gamma, beta }, attrs) as [tf.Tensor, tf.Tensor1D, tf.Tensor1D];
}

export function hasBatchNormTrainingKernel(): boolean {
  return tf.getKernel(BATCH_NORM_TRAINING, tf.getBackend()) != null;
}
