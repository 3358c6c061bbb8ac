/** WeightEma averages trainable weights and BatchNorm moving statistics alike. */
import { beforeAll, expect, it } from "vitest";
import { initBackend } from "./backend";
import { readWeights, WeightEma, writeWeights } from "./ema";
import * as tf from "./tf";

beforeAll(async () => {
  await initBackend({ force: "cpu", log: () => {} });
});

function tiny(): tf.LayersModel {
  const input = tf.input({ shape: [2] });
  const dense = tf.layers.dense({ units: 2 }).apply(input) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: tf.layers.batchNormalization().apply(dense) as tf.SymbolicTensor });
}

function filled(model: tf.LayersModel, value: number): Float32Array[] {
  return model.weights.map((w) => new Float32Array(tf.util.sizeFromShape(w.shape as number[])).fill(value));
}

it("shadow = decay * shadow + (1 - decay) * weights, for every weight", () => {
  const model = tiny();
  const shadow = tiny();
  // dense kernel (2x2), dense bias, BN gamma, beta, moving mean, moving variance.
  expect(model.weights.map((w) => w.trainable)).toEqual([true, true, true, true, false, false]);
  writeWeights(model, filled(model, 2));
  const ema = new WeightEma(model, shadow, 0.9);
  expect(readWeights(shadow).map((w) => Array.from(w))).toEqual(readWeights(model).map((w) => Array.from(w)));

  writeWeights(model, filled(model, 12));
  ema.update(); // 0.9 * 2 + 0.1 * 12 = 3
  ema.update(); // 0.9 * 3 + 0.1 * 12 = 3.9
  for (const values of readWeights(shadow)) for (const v of values) expect(v).toBeCloseTo(3.9, 5);
  model.dispose();
  shadow.dispose();
});
