import { beforeAll, expect, it } from "vitest";
import * as tf from "../tf";
import { buildResNet, SMALL_RESNET } from "./resnet";

beforeAll(async () => {
  await import("@tensorflow/tfjs-backend-cpu");
  await tf.setBackend("cpu");
});

/** Parameters counted by hand: kxk conv without bias, BN with 4 values per channel, dense. */
function expectedParams(channels: number, width: number, blocks: number, classes: number): number {
  const conv = (k: number, cin: number, cout: number) => k * k * cin * cout;
  const bn = (c: number) => 4 * c;
  let total = conv(3, channels, width) + bn(width);
  let cin = width;
  for (let stage = 0; stage < 3; stage++) {
    const cout = width * 2 ** stage;
    for (let b = 0; b < blocks; b++) {
      total += conv(3, cin, cout) + bn(cout) + conv(3, cout, cout) + bn(cout);
      if (cin !== cout || (stage > 0 && b === 0)) total += conv(1, cin, cout) + bn(cout);
      cin = cout;
    }
  }
  return total + cin * classes + classes;
}

it("SMALL_RESNET has the hand-counted parameters and outputs logits per class", () => {
  const model = buildResNet(SMALL_RESNET);
  expect(model.countParams()).toBe(expectedParams(3, 32, 1, 10));
  expect(model.outputs[0].shape).toEqual([null, 10]);
  const logits = tf.tidy(() => (model.predict(tf.zeros([2, 32, 32, 3])) as tf.Tensor).shape);
  expect(logits).toEqual([2, 10]);
  model.dispose();
});

it("builds any config: grayscale, 2 blocks per stage, odd input size", () => {
  const model = buildResNet({ inputSize: 9, channels: 1, numClasses: 4, width: 8, blocks: 2 });
  expect(model.countParams()).toBe(expectedParams(1, 8, 2, 4));
  expect(tf.tidy(() => (model.predict(tf.zeros([3, 9, 9, 1])) as tf.Tensor).shape)).toEqual([3, 4]);
  model.dispose();
});
