/**
 * Folding BatchNormalization into the convolution before it (and ReLU6 into one kernel): the real MobileNetV2 architecture
 * (alpha 0.35, 64 px, its BatchNormalization layers given random statistics so they matter) and
 * a hand-built graph with a convolution whose output is read twice (not folded).
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, expect, it } from "vitest";
import { initBackend } from "./backend";
import { cutAndPool } from "./backbones";
import { buildMobileNetV2, MOBILENET_V2_CUT_LAYER } from "./models/mobilenetv2";
import { relativeError, seededValues } from "./testing";
import * as tf from "./tf";
import { disposeBackbone, extractPlainFeatures } from "./features/cache";
import { foldBatchNorms } from "./fold-batchnorm";

beforeAll(async () => {
  await initBackend({ force: "wasm", log: () => {} });
});

/** Random gamma, beta, moving mean and variance (> 0) for every BatchNormalization layer. */
function randomiseBatchNorms(model: tf.LayersModel): void {
  let seed = 1;
  for (const layer of model.layers) {
    if (layer.getClassName() !== "BatchNormalization") continue;
    layer.setWeights(
      layer.getWeights().map((w, i) => {
        const v = seededValues(w.size, seed++);
        // [gamma, beta, mean, variance]: gamma around 1, variance in (0.1, 2.1).
        return tf.tensor(i === 0 ? v.map((x) => 1 + 0.5 * x) : i === 3 ? v.map((x) => 1.1 + x) : v.map((x) => 0.3 * x), w.shape);
      }),
    );
  }
}

const countBatchNorms = (m: tf.LayersModel) => m.layers.filter((l) => l.getClassName() === "BatchNormalization").length;

it("MobileNetV2 with every BatchNormalization folded gives the same features; the original is untouched", () => {
  const extractor = cutAndPool(buildMobileNetV2({ alpha: 0.35, inputSize: 64, seed: 2 }), MOBILENET_V2_CUT_LAYER);
  randomiseBatchNorms(extractor);
  const x = tf.tensor4d(seededValues(3 * 64 * 64 * 3, 9), [3, 64, 64, 3]);
  const reference = (extractor.predict(x) as tf.Tensor).dataSync();
  const folded = foldBatchNorms(extractor);
  expect(countBatchNorms(extractor)).toBe(52);
  expect(countBatchNorms(folded)).toBe(0);
  // Every ReLU(max 6) is gone as a layer.
  expect(extractor.layers.filter((l) => l.getClassName() === "ReLU")).toHaveLength(35);
  expect(folded.layers.filter((l) => l.getClassName() === "ReLU")).toHaveLength(0);
  // Each ReLU6 after a folded convolution is fused into it; none is left on its own.
  expect(folded.layers.filter((l) => l.getClassName() === "FixLabelRelu6")).toHaveLength(0);
  expect(folded.layers.filter((l) => l.getClassName() === "FixLabelFusedConv")).toHaveLength(52);
  const values = (folded.predict(x) as tf.Tensor).dataSync();
  expect(relativeError(values, reference)).toBeLessThan(1e-5);
  // The features are not trivially equal: the statistics moved them.
  expect(Math.max(...reference) - Math.min(...reference)).toBeGreaterThan(0.1);
  // The original still predicts on its own, and survives the folded copy's disposal.
  folded.dispose();
  expect(relativeError((extractor.predict(x) as tf.Tensor).dataSync(), reference)).toBe(0);
  extractor.dispose();
});

it("a convolution whose output is read twice, or one with an activation, keeps its BatchNormalization; a model with nothing to fold is returned as it is", () => {
  const input = tf.input({ shape: [6, 6, 2] });
  const init = { kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) };
  const shared = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: "same", useBias: false, ...init }).apply(input) as tf.SymbolicTensor;
  const bn1 = tf.layers.batchNormalization({ axis: -1 }).apply(shared) as tf.SymbolicTensor;
  const skip = tf.layers.add().apply([bn1, shared]) as tf.SymbolicTensor;
  const clipped = tf.layers.reLU({ maxValue: 6 }).apply(skip) as tf.SymbolicTensor;
  const activated = tf.layers.conv2d({ filters: 3, kernelSize: 1, activation: "relu", ...init }).apply(clipped) as tf.SymbolicTensor;
  const bn2 = tf.layers.batchNormalization({ axis: -1 }).apply(activated) as tf.SymbolicTensor;
  const plain = tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: "same", depthwiseInitializer: tf.initializers.glorotUniform({ seed: 5 }) }).apply(bn2) as tf.SymbolicTensor;
  const bn3 = tf.layers.batchNormalization({ axis: -1, center: false }).apply(plain) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: bn3 });
  randomiseBatchNorms(model);
  const folded = foldBatchNorms(model);
  // Only the depthwise convolution's BatchNormalization (no beta: center false) is folded; the
  // ReLU6 after the addition has no convolution to join and becomes one relu6 kernel.
  expect(countBatchNorms(folded)).toBe(2);
  expect(folded.layers.map((l) => l.getClassName()).filter((c) => c.startsWith("FixLabel"))).toEqual(["FixLabelRelu6", "FixLabelFusedConv"]);
  const x = tf.tensor4d(seededValues(2 * 6 * 6 * 2, 3), [2, 6, 6, 2]);
  expect(relativeError((folded.predict(x) as tf.Tensor).dataSync(), (model.predict(x) as tf.Tensor).dataSync())).toBeLessThan(1e-5);

  const noBatchNorm = tf.model({ inputs: input, outputs: shared });
  expect(foldBatchNorms(noBatchNorm)).toBe(noBatchNorm);
  // A model nested as a layer (a fine-tuned backbone, some Keras exports) is folded inside.
  const outer = tf.input({ shape: [6, 6, 2] });
  const nested = tf.model({ inputs: outer, outputs: model.apply(outer) as tf.SymbolicTensor });
  const nestedFolded = foldBatchNorms(nested);
  expect(nestedFolded).not.toBe(nested);
  expect(relativeError((nestedFolded.predict(x) as tf.Tensor).dataSync(), (model.predict(x) as tf.Tensor).dataSync())).toBeLessThan(1e-5);
  // One with nothing to fold would have to be reused as it is (new nodes on the original): left alone.
  const outer2 = tf.input({ shape: [6, 6, 2] });
  const nestedPlain = tf.model({ inputs: outer2, outputs: noBatchNorm.apply(outer2) as tf.SymbolicTensor });
  expect(foldBatchNorms(nestedPlain)).toBe(nestedPlain);
});

it("a plain ReLU, a LeakyReLU (with its alpha) and an Activation('relu') after a folded BatchNorm are fused into the convolution; ReLU(max 4) is not", () => {
  const input = tf.input({ shape: [5, 5, 2] });
  const init = () => ({ kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }), padding: "same" as const });
  const bn = (t: tf.SymbolicTensor) => tf.layers.batchNormalization().apply(t) as tf.SymbolicTensor;
  let x = tf.layers.reLU().apply(bn(tf.layers.conv2d({ filters: 3, kernelSize: 3, ...init() }).apply(input) as tf.SymbolicTensor)) as tf.SymbolicTensor;
  x = tf.layers.leakyReLU({ alpha: 0.1 }).apply(bn(tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, ...init() }).apply(x) as tf.SymbolicTensor)) as tf.SymbolicTensor;
  x = tf.layers.activation({ activation: "relu" }).apply(bn(tf.layers.conv2d({ filters: 3, kernelSize: 1, ...init() }).apply(x) as tf.SymbolicTensor)) as tf.SymbolicTensor;
  x = tf.layers.reLU({ maxValue: 4 }).apply(bn(tf.layers.conv2d({ filters: 3, kernelSize: 1, ...init() }).apply(x) as tf.SymbolicTensor)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: x });
  randomiseBatchNorms(model);
  const folded = foldBatchNorms(model);
  const kinds = folded.layers.filter((l) => l.getClassName() === "FixLabelFusedConv").map((l) => (l as unknown as { activation: { kind: string; alpha?: number } }).activation);
  expect(kinds).toEqual([{ kind: "relu" }, { kind: "leakyrelu", alpha: 0.1 }, { kind: "relu" }, { kind: "linear" }]);
  expect(folded.layers.map((l) => l.getClassName()).filter((c) => ["ReLU", "LeakyReLU", "Activation", "BatchNormalization"].includes(c))).toEqual(["ReLU"]);
  const input4 = tf.tensor4d(seededValues(3 * 5 * 5 * 2, 8).map((v) => 3 * v), [3, 5, 5, 2]);
  const reference = (model.predict(input4) as tf.Tensor).dataSync();
  expect(relativeError((folded.predict(input4) as tf.Tensor).dataSync(), reference)).toBeLessThan(1e-5);
  // Some values are clipped at 0 and some are not: the activations matter.
  expect(reference.some((v) => v === 0) && reference.some((v) => v > 0.1)).toBe(true);
  folded.dispose();
  model.dispose();
});

it("feature extraction runs the folded model: the features of the unfolded extractor, and disposeBackbone frees both", async () => {
  const extractor = cutAndPool(buildMobileNetV2({ alpha: 0.35, inputSize: 32, seed: 3 }), MOBILENET_V2_CUT_LAYER);
  randomiseBatchNorms(extractor);
  const before = tf.memory().numTensors;
  const preprocessing = { inputSize: 32, channels: 3 as const, scale: 1 / 127.5, offset: -1 };
  const backbone = { id: "mnv2-tiny", ref: { kind: "custom" as const, source: "test", cutLayer: MOBILENET_V2_CUT_LAYER, preprocessing }, preprocessing, featureDim: 1280, extractor };
  const pixels = [1, 2].map((seed) => Uint8Array.from(seededValues(32 * 32 * 3, seed), (v) => Math.round(127.5 + 127 * v)));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-fold-"));
  try {
    const features = await extractPlainFeatures({ backbone, dir, images: pixels.map((p) => ({ sha256: createHash("sha256").update(p).digest("hex"), load: async () => p })) });
    const direct = tf.tidy(() => (extractor.predict(tf.sub(tf.div(tf.tensor4d(Float32Array.from([...pixels[0], ...pixels[1]]), [2, 32, 32, 3]), 127.5), 1)) as tf.Tensor).dataSync());
    expect(relativeError(features, direct)).toBeLessThan(1e-5);
    // The folded copy's weights: a kernel and a bias per folded convolution.
    expect(tf.memory().numTensors).toBeGreaterThanOrEqual(before + 2 * 52);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  disposeBackbone(backbone);
  // The folded copy is gone with it (the extractor's layers are shared with the full model the test built).
  expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
});
