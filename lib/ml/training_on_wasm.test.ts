/**
 * Training works end to end on wasm: 30 SGD steps on a tiny two-class problem (bright vs dark
 * 8x8 images) lower the loss clearly, and a training step leaves no tensors behind.
 */
import { expect, it } from "vitest";
import { initBackend } from "./backend";
import { buildResNet } from "./models/resnet";
import { seededValues } from "./testing";
import * as tf from "./tf";

const SIZE = 8;
const PER_CLASS = 8;

/** Class 0: dark images (~0.25), class 1: bright ones (~0.75), both with +-0.2 noise. */
function brightVersusDark(): { images: tf.Tensor4D; labels: tf.Tensor2D } {
  const n = 2 * PER_CLASS;
  const noise = seededValues(n * SIZE * SIZE, 3);
  const pixels = new Float32Array(n * SIZE * SIZE);
  const classes: number[] = [];
  for (let i = 0; i < n; i++) {
    const bright = i % 2;
    classes.push(bright);
    for (let p = 0; p < SIZE * SIZE; p++) pixels[i * SIZE * SIZE + p] = (bright ? 0.75 : 0.25) + 0.2 * noise[i * SIZE * SIZE + p];
  }
  return {
    images: tf.tensor4d(pixels, [n, SIZE, SIZE, 1]),
    labels: tf.tidy(() => tf.oneHot(tf.tensor1d(classes, "int32"), 2) as tf.Tensor2D),
  };
}

it("30 SGD steps on wasm lower the loss and leak no tensors", async () => {
  await initBackend({ force: "wasm", log: () => {} });
  const model = buildResNet({ inputSize: SIZE, channels: 1, numClasses: 2, width: 4, blocks: 1 });
  const { images, labels } = brightVersusDark();
  const optimizer = tf.train.sgd(0.1);
  const losses: number[] = [];
  const tensorsAfterStep: number[] = [];
  for (let step = 1; step <= 30; step++) {
    const loss = optimizer.minimize(
      () => tf.losses.softmaxCrossEntropy(labels, model.apply(images, { training: true }) as tf.Tensor) as tf.Scalar,
      true,
    )!;
    losses.push((await loss.data())[0]);
    loss.dispose();
    tensorsAfterStep[step] = tf.memory().numTensors;
  }
  const first = losses[0];
  const lastThree = losses.slice(-3).reduce((a, b) => a + b, 0) / 3;
  expect(lastThree, `losses: ${losses.map((l) => l.toFixed(3)).join(" ")}`).toBeLessThan(0.25 * first);
  expect(tensorsAfterStep[30]).toBe(tensorsAfterStep[5]);
  tf.dispose([images, labels]);
  optimizer.dispose();
  model.dispose();
});
