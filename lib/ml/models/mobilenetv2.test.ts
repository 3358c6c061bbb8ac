/**
 * Our MobileNetV2 must match Keras' layer for layer, or the public ImageNet weights will not load
 * into it by name. The expected layers are generated here from the rules of
 * keras/applications/mobilenet_v2.py (the calls of MobileNetV2() and _inverted_res_block written
 * out again, independently of the builder), then compared with what the builder makes.
 */
import { beforeAll, expect, it } from "vitest";
import * as tf from "../tf";
import { buildMobileNetV2, MOBILENET_V2_CUT_LAYER } from "./mobilenetv2";

beforeAll(async () => {
  await import("@tensorflow/tfjs-backend-cpu");
  await tf.setBackend("cpu");
});

type LayerWeights = { name: string; shapes: number[][] };

/** Keras' layers with weights, in order, with their weight shapes (kernel; gamma, beta, mean, var). */
function kerasMobileNetV2NoTop(alpha: number): LayerWeights[] {
  const makeDivisible = (v: number) => {
    let r = Math.max(8, Math.floor((v + 4) / 8) * 8);
    if (r < 0.9 * v) r += 8;
    return r;
  };
  const layers: LayerWeights[] = [];
  const conv = (name: string, k: number, cin: number, cout: number) => layers.push({ name, shapes: [[k, k, cin, cout]] });
  const bn = (name: string, c: number) => layers.push({ name, shapes: [[c], [c], [c], [c]] });
  const depthwise = (name: string, c: number) => layers.push({ name, shapes: [[3, 3, c, 1]] });

  let channels = makeDivisible(32 * alpha);
  conv("Conv1", 3, 3, channels);
  bn("bn_Conv1", channels);
  // The 17 calls of _inverted_res_block in MobileNetV2(): (filters, expansion) with block_id 0..16.
  const calls: Array<[number, number]> = [
    [16, 1],
    [24, 6], [24, 6],
    [32, 6], [32, 6], [32, 6],
    [64, 6], [64, 6], [64, 6], [64, 6],
    [96, 6], [96, 6], [96, 6],
    [160, 6], [160, 6], [160, 6],
    [320, 6],
  ];
  calls.forEach(([filters, expansion], blockId) => {
    const out = makeDivisible(Math.trunc(filters * alpha));
    const prefix = blockId ? `block_${blockId}_` : "expanded_conv_";
    let c = channels;
    if (blockId) {
      conv(`${prefix}expand`, 1, c, expansion * c);
      bn(`${prefix}expand_BN`, expansion * c);
      c = expansion * c;
    }
    depthwise(`${prefix}depthwise`, c);
    bn(`${prefix}depthwise_BN`, c);
    conv(`${prefix}project`, 1, c, out);
    bn(`${prefix}project_BN`, out);
    channels = out;
  });
  const last = alpha > 1 ? makeDivisible(1280 * alpha) : 1280;
  conv("Conv_1", 1, channels, last);
  bn("Conv_1_bn", last);
  return layers;
}

function builtLayers(model: tf.LayersModel): LayerWeights[] {
  return model.layers.filter((l) => l.weights.length > 0).map((l) => ({ name: l.name, shapes: l.weights.map((w) => w.shape as number[]) }));
}

it("at alpha 1.0 has Keras' 2,257,984 weights and exactly its layer names and weight shapes", () => {
  const model = buildMobileNetV2({ alpha: 1.0 });
  const expected = kerasMobileNetV2NoTop(1.0);
  expect(builtLayers(model)).toEqual(expected);
  const expectedCount = expected.reduce((sum, l) => sum + l.shapes.reduce((s, shape) => s + shape.reduce((a, b) => a * b, 1), 0), 0);
  expect(expectedCount).toBe(2_257_984);
  expect(model.countParams()).toBe(2_257_984);
  // The weight names a converted Keras model's manifest uses ("layer/kernel", "layer/gamma", ...).
  const names = model.weights.map((w) => w.originalName);
  expect(names).toContain("Conv1/kernel");
  expect(names).toContain("block_16_project_BN/moving_variance");
  expect(names).toContain("expanded_conv_depthwise/depthwise_kernel");
  model.dispose();
});

it.each([0.35, 0.5, 0.75])("at alpha %s matches Keras' layers too", (alpha) => {
  const model = buildMobileNetV2({ alpha });
  expect(builtLayers(model)).toEqual(kerasMobileNetV2NoTop(alpha));
  model.dispose();
});

it("has Keras' activation, padding, residual and output layer names", () => {
  const model = buildMobileNetV2({ alpha: 0.35 });
  const names = model.layers.map((l) => l.name);
  for (const name of ["Conv1_relu", "expanded_conv_depthwise_relu", "block_1_pad", "block_1_expand_relu", "block_2_add", "block_15_add", "out_relu"]) {
    expect(names).toContain(name);
  }
  // Stride-2 blocks have no residual, nor does block 16 (widths differ) nor block 0.
  for (const absent of ["block_1_add", "block_3_add", "block_6_add", "block_13_add", "block_16_add", "expanded_conv_add"]) {
    expect(names).not.toContain(absent);
  }
  expect(names[names.length - 1]).toBe(MOBILENET_V2_CUT_LAYER);
  expect(model.outputs[0].shape).toEqual([null, 7, 7, 1280]);
  model.dispose();
});

it("cut at out_relu with global average pooling gives 1280 features per 224 px image", () => {
  const model = buildMobileNetV2({ alpha: 1.0, seed: 3 });
  const cut = model.getLayer(MOBILENET_V2_CUT_LAYER).output as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({ name: "pool" }).apply(cut) as tf.SymbolicTensor;
  const extractor = tf.model({ inputs: model.inputs, outputs: pooled });
  const features = tf.tidy(() => extractor.predict(tf.randomUniform([2, 224, 224, 3], -1, 1, "float32", 5)) as tf.Tensor);
  expect(features.shape).toEqual([2, 1280]);
  const values = features.dataSync();
  // ReLU6 then averaging: every feature lies in [0, 6], and they are not all equal.
  expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
  expect(Math.max(...values)).toBeLessThanOrEqual(6);
  expect(Math.max(...values)).toBeGreaterThan(Math.min(...values));
  features.dispose();
  model.dispose();
});

it("the same seed builds the same weights", () => {
  const a = buildMobileNetV2({ alpha: 0.35, seed: 7 });
  const b = buildMobileNetV2({ alpha: 0.35, seed: 7 });
  const kernel = (m: tf.LayersModel) => Array.from(m.getLayer("block_5_expand").getWeights()[0].dataSync().slice(0, 20));
  expect(kernel(a)).toEqual(kernel(b));
  a.dispose();
  b.dispose();
});
