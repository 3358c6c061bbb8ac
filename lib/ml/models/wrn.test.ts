import { beforeAll, expect, it } from "vitest";
import * as tf from "../tf";
import { buildWideResNet, WRN_28_2 } from "./wrn";

beforeAll(async () => {
  await import("@tensorflow/tfjs-backend-cpu");
  await tf.setBackend("cpu");
});

const trainableParams = (m: tf.LayersModel) => m.trainableWeights.reduce((n, w) => n + tf.util.sizeFromShape(w.shape as number[]), 0);

it("WRN-28-2 has FixMatch's ~1.47M trainable parameters and 10 logits", () => {
  const model = buildWideResNet(WRN_28_2);
  const params = trainableParams(model);
  expect(params).toBeGreaterThan(1.46e6);
  expect(params).toBeLessThan(1.48e6);
  expect(model.outputs[0].shape).toEqual([null, 10]);
  expect(tf.tidy(() => (model.predict(tf.zeros([2, 32, 32, 3])) as tf.Tensor).shape)).toEqual([2, 10]);
  model.dispose();
});

it("uses the paper's BatchNorm momentum (0.999 Keras convention) and leaky ReLU 0.1", () => {
  const model = buildWideResNet({ ...WRN_28_2, depth: 10 });
  const bns = model.layers.filter((l) => l.getClassName() === "BatchNormalization");
  expect(bns.length).toBeGreaterThan(0);
  for (const bn of bns) expect(bn.getConfig().momentum).toBe(0.999);
  const leaky = model.layers.filter((l) => l.getClassName() === "LeakyReLU");
  for (const l of leaky) expect(l.getConfig().alpha).toBe(0.1);
  model.dispose();
});

it("rejects a depth that is not 6n + 4", () => {
  expect(() => buildWideResNet({ ...WRN_28_2, depth: 27 })).toThrow(/6n \+ 4/);
});
