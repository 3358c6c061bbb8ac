/**
 * Whole-network check for the depthwise path: the gradients of a cross-entropy loss through a
 * narrow MobileNetV2 (every block type: stride-2 depthwise with its zero padding, expansions,
 * residual adds, ReLU6) plus a dense head, on wasm with the project's kernels, equal those of the
 * cpu backend with tfjs' own. The cpu reference is computed BEFORE initBackend registers anything
 * (in its own file, since the registrations are process-wide).
 * Batch norm runs in inference mode (as when fine-tuning on a frozen backbone's statistics): in
 * training mode, batch 2 over the last stages' 2x2 maps makes the batch statistics so
 * ill-conditioned that float32 noise alone differs by ~5e-3 between any two backends, and the
 * projection BN offsets get gradients that are zero in exact arithmetic. The training-mode BN
 * gradient is checked on the residual net in network_grads.test.ts.
 */
import { expect, it } from "vitest";
import { initBackend } from "../backend";
import { buildMobileNetV2 } from "../models/mobilenetv2";
import { onBackend, relativeError, seededValues } from "../testing";
import * as tf from "../tf";

const TOLERANCE = 1e-4;

it("gradients of a narrow MobileNetV2 on wasm match the cpu backend", async () => {
  await tf.setBackend("cpu");
  const batch = 2;
  const size = 35; // odd: every stride-2 stage pads unevenly
  const numClasses = 3;
  const backbone = buildMobileNetV2({ alpha: 0.35, inputSize: size, seed: 5 });
  const head = tf.layers.dense({ units: numClasses, kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }) });
  const images = seededValues(batch * size * size * 3, 21);
  const labels = [2, 0];
  const forward = (x: tf.Tensor) => head.apply(tf.mean(backbone.apply(x, { training: false }) as tf.Tensor4D, [1, 2])) as tf.Tensor;
  tf.tidy(() => forward(tf.zeros([1, size, size, 3]))); // builds the head
  const weights = [...backbone.trainableWeights, ...head.trainableWeights].map((w) => w.read() as tf.Variable);

  const lossAndGrads = () => {
    const x = tf.tensor4d(images, [batch, size, size, 3]);
    const y = tf.oneHot(tf.tensor1d(labels, "int32"), numClasses);
    const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, forward(x)) as tf.Scalar, weights);
    tf.dispose([x, y]);
    return [value, ...weights.map((w) => grads[w.name])];
  };

  const reference = await onBackend("cpu", lossAndGrads);
  await initBackend({ force: "wasm", log: () => {} });
  const got = await onBackend("wasm", lossAndGrads);

  expect(relativeError(got[0], reference[0]), "loss").toBeLessThanOrEqual(TOLERANCE);
  const depthwise = weights.filter((w) => w.name.includes("depthwise_kernel"));
  expect(depthwise.length).toBe(17);
  const errors = weights.map((w, i) => [w.name, relativeError(got[i + 1], reference[i + 1])] as const);
  const worst = errors.reduce((a, b) => (b[1] > a[1] ? b : a));
  expect(worst[1], `worst gradient: ${worst[0]}`).toBeLessThanOrEqual(TOLERANCE);
  backbone.dispose();
});
