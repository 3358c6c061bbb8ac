/**
 * The FusedBatchNorm gradient without `tile`.
 *
 * tfjs-core's gradient for dx materialises tile(rsqrt(variance), [N, H, W, 1]) — a full-size
 * copy of a per-channel vector — and the wasm Tile kernel is very slow (~0.4 s per 8M elements).
 * This is the same math with a broadcasting multiply. Gradients are registered per kernel, not per
 * backend, so this applies to every backend; the result is identical, only cheaper.
 * tf.layers' BatchNormalization in training on wasm now mostly runs batch_norm_training.ts
 * instead; this one still serves the cases it leaves to tfjs (another axis, other backends).
 */
import * as tf from "../tf";

export const fusedBatchNormGradWithoutTile: tf.GradConfig = {
  kernelName: tf.FusedBatchNorm,
  inputsToSave: ["x", "mean", "variance", "scale"],
  gradFunc: (dy, saved, attrs) => {
    const { varianceEpsilon } = attrs as unknown as tf.FusedBatchNormAttrs;
    const [x, mean, variance, scale] = saved;
    const dyTensor = dy as tf.Tensor;
    const scaleValue = scale ?? tf.scalar(1);
    const reductionAxes = tf.backend_util.getReductionAxes(mean.shape, x.shape);
    // Statistics broadcast over the other axes, whether per-channel vectors (rank 1, channels
    // last) or kept-dims shapes such as [1, C, 1, 1] (a BatchNormalization over axis 1): their
    // gradients sum over the broadcast axes. (tfjs-core sums only for rank 1, so its own gradient
    // throws on the second kind.)
    const reduceToStatShape = (t: tf.Tensor) => tf.reshape(reductionAxes.length > 0 ? tf.sum(t, reductionAxes) : t, mean.shape);
    const xMinusMean = tf.sub(x, mean);
    const dyTimesScale = tf.mul(dyTensor, scaleValue);
    const invStd = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
    const minusHalfInvStdCubed = tf.mul(tf.mul(tf.mul(invStd, invStd), invStd), tf.scalar(-0.5));
    return {
      x: () => tf.reshape(tf.mul(dyTensor, tf.mul(invStd, scaleValue)), x.shape),
      mean: () => reduceToStatShape(tf.mul(tf.neg(invStd), dyTimesScale)),
      variance: () => reduceToStatShape(tf.mul(tf.mul(minusHalfInvStdCubed, xMinusMean), dyTimesScale)),
      scale: () => reduceToStatShape(tf.mul(dyTensor, tf.mul(xMinusMean, invStd))),
      offset: () => reduceToStatShape(dyTensor),
    };
  },
};
