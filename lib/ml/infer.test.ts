/**
 * Prediction runs the model with its BatchNormalizations folded (fold-batchnorm.ts). For every
 * model family the app trains (models/index.ts buildModel: ResNet, WRN) and a fine-tuned backbone
 * classifier (its MobileNetV2 nested as one layer), at tiny sizes with random BatchNorm
 * statistics: the probabilities and the penultimate-layer embeddings ("label next") equal the
 * unfolded model's, the trained model is left as it was, and nothing leaks.
 */
import { beforeAll, expect, it } from "vitest";
import { initBackend } from "./backend";
import { cutAndPool } from "./backbones";
import { composeClassifier } from "./backbones/compose";
import { buildFinetuneClassifier } from "./backbones/finetune";
import { foldBatchNorms } from "./fold-batchnorm";
import { inferenceModel, predictProbs, predictProbsAndEmbeddings } from "./infer";
import { buildModel } from "./models";
import { buildMobileNetV2, MOBILENET_V2_CUT_LAYER } from "./models/mobilenetv2";
import { relativeError, seededValues } from "./testing";
import * as tf from "./tf";

beforeAll(async () => {
  await initBackend({ force: "wasm", log: () => {} });
});

/** Random gamma, beta, moving mean and variance (> 0) for every BatchNormalization layer, nested ones too. */
function randomiseBatchNorms(model: tf.LayersModel, seed = { next: 1 }): void {
  for (const layer of model.layers) {
    if (layer instanceof tf.LayersModel) randomiseBatchNorms(layer, seed);
    if (layer.getClassName() !== "BatchNormalization") continue;
    layer.setWeights(
      layer.getWeights().map((w, i) => {
        const v = seededValues(w.size, seed.next++);
        return tf.tensor(i === 0 ? v.map((x) => 1 + 0.5 * x) : i === 3 ? v.map((x) => 1.1 + x) : v.map((x) => 0.3 * x), w.shape);
      }),
    );
  }
}

/** The unfolded model's softmax and penultimate-layer output, by plain model.predict. */
function unfoldedReference(model: tf.LayersModel, x: tf.Tensor4D): { probs: Float32Array; embeddings: Float32Array } {
  const features = model.layers[model.layers.length - 1].input as tf.SymbolicTensor;
  const twoHeads = tf.model({ inputs: model.inputs, outputs: [features, model.outputs[0]] });
  return tf.tidy(() => {
    const [f, logits] = twoHeads.predict(x) as tf.Tensor[];
    return { probs: tf.softmax(logits).dataSync() as Float32Array, embeddings: f.dataSync() as Float32Array };
  });
}

function pixelCache(size: number, channels: number, count: number) {
  const pixels = Uint8Array.from(seededValues(count * size * size * channels, 11), (v) => Math.round(127.5 + 127 * v));
  return { size, channels, pixels };
}

const cases: { name: string; build: () => tf.LayersModel; size: number; channels: number; fusedConvs: number }[] = [
  {
    name: "ResNet (conv-BN-ReLU, conv-BN into the residual add, 1x1 projection shortcuts)",
    build: () => buildModel({ model: { kind: "resnet", width: 4, blocks: 1 }, inputSize: 8, channels: 3, numClasses: 3, bnMomentum: null, seed: 1 }),
    size: 8,
    channels: 3,
    // stem, 3 blocks x 2 convs, 2 projections
    fusedConvs: 9,
  },
  {
    name: "WRN (pre-activation: BN-LeakyReLU before each conv, conv-BN-LeakyReLU inside the block)",
    build: () => buildModel({ model: { kind: "wrn", depth: 10, widenFactor: 1 }, inputSize: 8, channels: 1, numClasses: 4, bnMomentum: null, seed: 2 }),
    size: 8,
    channels: 1,
    // the stem (its BN-LeakyReLU is the first block's pre-activation) and the first conv of each of the 3 blocks
    fusedConvs: 4,
  },
];

for (const c of cases) {
  it(`${c.name}: folded prediction equals the unfolded model's, probabilities and embeddings`, async () => {
    const model = c.build();
    randomiseBatchNorms(model);
    const cache = pixelCache(c.size, c.channels, 5);
    const frames = [0, 1, 2, 3, 4];
    const x = tf.tidy(() => tf.div(tf.tensor4d(Float32Array.from(cache.pixels), [5, c.size, c.size, c.channels]), 255) as tf.Tensor4D);
    const reference = unfoldedReference(model, x);
    x.dispose();
    const weightsBefore = model.getWeights().map((w) => w.dataSync().slice());
    const tensorsBefore = tf.memory().numTensors;

    const folded = foldBatchNorms(model);
    expect(folded).not.toBe(model);
    expect(folded.layers.filter((l) => l.getClassName() === "FixLabelFusedConv")).toHaveLength(c.fusedConvs);
    // Every activation right after a folded BatchNorm is inside its convolution.
    const fusedActivations = folded.layers.filter((l) => l.getClassName() === "FixLabelFusedConv").map((l) => (l as unknown as { activation: { kind: string } }).activation.kind);
    expect(fusedActivations.every((k) => k !== "linear" || c.name.startsWith("ResNet"))).toBe(true);
    if (c.name.startsWith("WRN")) expect(new Set(fusedActivations)).toEqual(new Set(["leakyrelu"]));
    else expect(fusedActivations.filter((k) => k === "relu")).toHaveLength(4); // stem + first conv of 3 blocks
    // Folding a folded model returns it as it is.
    expect(foldBatchNorms(folded)).toBe(folded);
    folded.dispose();

    // batchSize 2: three batches, the last one short.
    const probs = predictProbs(model, cache, frames, 2);
    const both = await predictProbsAndEmbeddings(model, cache, frames, 2);
    expect(relativeError(probs, reference.probs)).toBeLessThan(1e-5);
    expect(relativeError(both.probs, reference.probs)).toBeLessThan(1e-5);
    expect(both.dim).toBe(reference.embeddings.length / 5);
    expect(relativeError(both.embeddings, reference.embeddings)).toBeLessThan(1e-5);
    // Not trivially equal: the random statistics spread the embeddings.
    expect(Math.max(...reference.embeddings) - Math.min(...reference.embeddings)).toBeGreaterThan(0.05);
    // The folded copies were made and freed within the calls; the trained model is untouched.
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    model.getWeights().forEach((w, i) => expect(relativeError(w.dataSync(), weightsBefore[i])).toBe(0));
    expect(model.layers.filter((l) => l.getClassName() === "BatchNormalization").length).toBeGreaterThan(0);

    // Folded once and reused (the worker's predict job, the web predictor): same values.
    const once = inferenceModel(model);
    expect(relativeError(predictProbs(once.model, cache, frames), reference.probs)).toBeLessThan(1e-5);
    once.dispose();
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    model.dispose();
  });
}

it("a fine-tuned backbone classifier (MobileNetV2 nested as one layer) is folded inside, with the same probabilities and embeddings", async () => {
  const extractor = cutAndPool(buildMobileNetV2({ alpha: 0.35, inputSize: 32, seed: 3 }), MOBILENET_V2_CUT_LAYER);
  const preprocessing = { inputSize: 32, channels: 3 as const, scale: 1 / 127.5, offset: -1 };
  const backbone = { id: "mnv2-tiny", ref: { kind: "custom" as const, source: "test", cutLayer: MOBILENET_V2_CUT_LAYER, preprocessing }, preprocessing, featureDim: 1280, extractor };
  const model = buildFinetuneClassifier(backbone, 3, 5);
  randomiseBatchNorms(model);
  const cache = pixelCache(32, 3, 3);
  const x = tf.tidy(() => tf.div(tf.tensor4d(Float32Array.from(cache.pixels), [3, 32, 32, 3]), 255) as tf.Tensor4D);
  const reference = unfoldedReference(model, x);
  x.dispose();
  const folded = inferenceModel(model);
  expect(folded.model).not.toBe(model);
  const inner = folded.model.layers.find((l) => l instanceof tf.LayersModel) as tf.LayersModel;
  expect(inner.layers.filter((l) => l.getClassName() === "BatchNormalization")).toHaveLength(0);
  const both = await predictProbsAndEmbeddings(folded.model, cache, [0, 1, 2]);
  expect(relativeError(both.probs, reference.probs)).toBeLessThan(1e-5);
  expect(relativeError(both.embeddings, reference.embeddings)).toBeLessThan(1e-5);
  folded.dispose();
  // The original still predicts the same after the folded copy is gone.
  const again = tf.tidy(() => unfoldedReference(model, tf.div(tf.tensor4d(Float32Array.from(cache.pixels), [3, 32, 32, 3]), 255) as tf.Tensor4D));
  expect(relativeError(again.probs, reference.probs)).toBe(0);
  model.dispose();
});

it("a frozen-backbone run's classifier (backbone + head sharing the head's layers, the web predictor's model) is folded with the same probabilities", () => {
  const extractor = cutAndPool(buildMobileNetV2({ alpha: 0.35, inputSize: 32, seed: 4 }), MOBILENET_V2_CUT_LAYER);
  randomiseBatchNorms(extractor);
  const preprocessing = { inputSize: 32, channels: 3 as const, scale: 1 / 127.5, offset: -1 };
  const backbone = { id: "mnv2-tiny", ref: { kind: "custom" as const, source: "test", cutLayer: MOBILENET_V2_CUT_LAYER, preprocessing }, preprocessing, featureDim: 1280, extractor };
  const headInput = tf.input({ shape: [1280] });
  const head = tf.model({ inputs: headInput, outputs: tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }) }).apply(headInput) as tf.SymbolicTensor });
  const classifier = composeClassifier(backbone, head);
  const x = tf.tensor4d(seededValues(2 * 32 * 32 * 3, 12), [2, 32, 32, 3]);
  const reference = (classifier.predict(x) as tf.Tensor).dataSync();
  const folded = inferenceModel(classifier);
  expect(folded.model).not.toBe(classifier);
  expect(folded.model.layers.filter((l) => l.getClassName() === "BatchNormalization")).toHaveLength(0);
  expect(relativeError((folded.model.predict(x) as tf.Tensor).dataSync(), reference)).toBeLessThan(1e-5);
  folded.dispose();
  // The head and the backbone still work on their own.
  expect(relativeError((classifier.predict(x) as tf.Tensor).dataSync(), reference)).toBe(0);
  classifier.dispose();
  head.dispose();
});
