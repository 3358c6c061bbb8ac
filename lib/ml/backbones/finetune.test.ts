/**
 * Fine-tune mode: the training loop trains backbone + dense logits with the backbone's bottom
 * frozen. On a small custom backbone saved here: the built model equals the by-hand pass (x in
 * [0, 1] -> x*255*scale + offset -> cut -> mean over H, W -> dense) before training; after FixMatch
 * steps the frozen layers' trainable weights are exactly the files', the top ones moved, and the
 * run's checkpoint reloads (loadTrainedModel) into a model giving the EMA model's predictions.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { initBackend } from "../backend";
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from "../config";
import { loadTrainedModel, predictProbs } from "../infer";
import { saveLayersModel } from "../model-files";
import { relativeError, seededValues } from "../testing";
import * as tf from "../tf";
import { train, type TrainData } from "../train";
import { buildTrainModel, freezeBottom, withBackboneInput } from "./finetune";
import type { BackboneRef } from "./types";

const SIZE = 8;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-finetune-"));
const dataDir = path.join(tmp, "data");
const folder = path.join(tmp, "backbone");
const ref: BackboneRef = { kind: "custom", source: folder, cutLayer: "cut_here", preprocessing: { inputSize: SIZE, channels: 3, scale: 1 / 127.5, offset: -1 } };
let original: tf.LayersModel;

beforeAll(async () => {
  await initBackend({ force: "wasm", log: () => {} });
  const input = tf.input({ shape: [SIZE, SIZE, 3] });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same", name: "conv_a", kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: "bn_a" }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ name: "relu_a" }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: "same", name: "conv_b", kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ name: "cut_here" }).apply(x) as tf.SymbolicTensor;
  original = tf.model({ inputs: input, outputs: x });
  await saveLayersModel(original, folder);
});
afterAll(() => {
  original.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Reddish vs bluish 8x8 images, 2 labeled per class. */
function data(n: number): TrainData {
  const noise = seededValues(n * SIZE * SIZE * 3, 5);
  const pixels = new Uint8Array(n * SIZE * SIZE * 3);
  for (let i = 0; i < pixels.length; i++) {
    const image = Math.floor(i / (SIZE * SIZE * 3));
    const channel = i % 3;
    pixels[i] = Math.max(0, Math.min(255, (channel === (image % 2 ? 2 : 0) ? 190 : 70) + Math.round(40 * noise[i])));
  }
  const labeled = [0, 1, 2, 3].map((frame) => ({ imageId: frame + 1, frame, classIndex: frame % 2 }));
  return { cache: { size: SIZE, channels: 3, pixels }, labeled, heldOut: [], unlabeled: [...Array(n).keys()] };
}

const CONFIG: TrainConfig = withBackboneInput({
  ...DEFAULT_TRAIN_CONFIG,
  backbone: ref,
  backboneMode: "finetune",
  inputSize: 32, // replaced by the backbone's
  channels: 1, // replaced by the backbone's
  numClasses: 2,
  steps: 4,
  batchSize: 4,
  mu: 1,
  emaDecay: 0.5,
  logEvery: 4,
  evalEvery: 100,
  checkpointEvery: 100,
});

it("takes the backbone's input size and channels, and freezes the bottom two thirds of its weighted layers", () => {
  expect(CONFIG).toMatchObject({ inputSize: SIZE, channels: 3 });
  const probe = tf.model({ inputs: original.inputs, outputs: original.outputs });
  expect(freezeBottom(probe)).toEqual({ frozen: ["conv_a", "bn_a"], trainable: ["conv_b"] });
  expect(freezeBottom(probe, 1)).toEqual({ frozen: [], trainable: ["conv_a", "bn_a", "conv_b"] });
});

it("before training, the model is the backbone cut by hand on x*255/127.5 - 1, pooled, then its dense layer", async () => {
  const model = await buildTrainModel(CONFIG, { dataDir });
  const x = tf.tensor4d(Float32Array.from(seededValues(2 * SIZE * SIZE * 3, 8), (v) => (v + 1) / 2), [2, SIZE, SIZE, 3]);
  const [ours, hand] = tf.tidy(() => {
    const features = tf.mean(original.predict(tf.sub(tf.mul(x, 255 / 127.5), 1)) as tf.Tensor, [1, 2]);
    const [kernel, bias] = model.getLayer("logits").getWeights();
    return [model.predict(x) as tf.Tensor, tf.add(tf.matMul(features as tf.Tensor2D, kernel as tf.Tensor2D), bias)];
  });
  expect(relativeError(ours.dataSync(), hand.dataSync())).toBeLessThan(1e-5);
  // Trainable: conv_b's kernel and bias, and the logits' kernel and bias.
  expect(model.trainableWeights.map((w) => w.originalName).sort()).toEqual(["conv_b/bias", "conv_b/kernel", "logits/bias", "logits/kernel"]);
  tf.dispose([x, ours, hand]);
  model.dispose();
});

it("FixMatch steps train the top and leave the frozen bottom's weights as the files had them; the checkpoint reloads", async () => {
  const runDir = path.join(tmp, "run");
  const d = data(12);
  const result = await train({ config: { ...CONFIG, mode: "fixmatch" }, data: d, runDir, backbone: { dataDir } });
  expect(result).toMatchObject({ status: "finished", step: 4 });
  const { model } = await loadTrainedModel(runDir, { dataDir });
  const weight = (m: tf.LayersModel, name: string) => Array.from(m.weights.find((w) => w.originalName === name)!.read().dataSync());
  expect(weight(model, "conv_a/kernel")).toEqual(weight(original, "conv_a/kernel"));
  expect(weight(model, "bn_a/gamma")).toEqual(weight(original, "bn_a/gamma"));
  // A frozen BatchNorm runs in inference mode (as Keras does): its moving statistics stay too.
  expect(weight(model, "bn_a/moving_mean")).toEqual(weight(original, "bn_a/moving_mean"));
  expect(weight(model, "bn_a/moving_variance")).toEqual(weight(original, "bn_a/moving_variance"));
  expect(relativeError(weight(model, "conv_b/kernel"), weight(original, "conv_b/kernel"))).toBeGreaterThan(1e-4);
  const probs = predictProbs(model, d.cache, [0, 1, 2]);
  expect(probs).toHaveLength(6);
  for (let i = 0; i < 3; i++) expect(probs[2 * i] + probs[2 * i + 1]).toBeCloseTo(1, 5);
  model.dispose();
});
