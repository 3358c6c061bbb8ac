/**
 * Whole-network check: the gradients of a cross-entropy loss through a small residual net
 * (conv-BN-ReLU, residual adds, a stride-2 stage with a 1x1 projection, global average pooling,
 * dense) on wasm with the project's kernels equal those of the cpu backend with tfjs' own
 * kernels and gradients. The cpu reference is computed BEFORE initBackend registers anything, so
 * the replaced BatchNorm gradient and reductions are checked too, not just the conv kernels.
 * On wasm the BatchNorm layers run the fused training kernel (batch_norm_training.ts).
 */
import { expect, it } from "vitest";
import { initBackend } from "../backend";
import { buildResNet } from "../models/resnet";
import { onBackend, relativeError, seededValues } from "../testing";
import * as tf from "../tf";
import { BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD } from "./batch_norm_training";

const TOLERANCE = 1e-4;

it("gradients of a small residual net on wasm match the cpu backend", async () => {
  await tf.setBackend("cpu");
  const batch = 4;
  const numClasses = 3;
  const model = buildResNet({ inputSize: 9, channels: 3, numClasses, width: 4, blocks: 1 });
  const images = seededValues(batch * 9 * 9 * 3, 11);
  const labels = [0, 2, 1, 2];
  const weights = model.trainableWeights.map((w) => w.read() as tf.Variable);

  const lossAndGrads = () => {
    const x = tf.tensor4d(images, [batch, 9, 9, 3]);
    const y = tf.oneHot(tf.tensor1d(labels, "int32"), numClasses);
    const { value, grads } = tf.variableGrads(
      () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
      weights,
    );
    tf.dispose([x, y]);
    return [value, ...weights.map((w) => grads[w.name])];
  };

  const reference = await onBackend("cpu", lossAndGrads);
  await initBackend({ force: "wasm", log: () => {} });
  const got = await onBackend("wasm", lossAndGrads);
  // ...and on wasm the BatchNorm layers took the fused training kernel and its gradient.
  const { kernelNames } = await tf.profile(() => void tf.dispose(lossAndGrads()));
  expect(kernelNames).toEqual(expect.arrayContaining([BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD]));
  expect(kernelNames).not.toContain(tf.FusedBatchNorm);

  expect(relativeError(got[0], reference[0]), "loss").toBeLessThanOrEqual(TOLERANCE);
  const errors = weights.map((w, i) => [w.name, relativeError(got[i + 1], reference[i + 1])] as const);
  const worst = errors.reduce((a, b) => (b[1] > a[1] ? b : a));
  expect(worst[1], `worst gradient: ${worst[0]}`).toBeLessThanOrEqual(TOLERANCE);
  model.dispose();
});
