/**
 * The fused training-mode BatchNorm (batch_norm_training.ts, batch_norm_layer.ts) against tfjs'
 * own path on the cpu backend (moments + FusedBatchNorm and tfjs-core's gradients): the layer's
 * output, the gradients of x, gamma and beta, and the moving mean and variance it leaves, on tiny
 * odd shapes. Plus the kernels the layer leans on: Identity and same-dtype Cast sharing buffers.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend";
import { onBackend, relativeError, seededValues } from "../testing";
import * as tf from "../tf";
import { setFusedBatchNorm } from "./batch_norm_layer";
import { BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD, batchNormTraining } from "./batch_norm_training";

const TOLERANCE = 1e-5;

function maxAbs(values: Float32Array): number {
  return values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}

beforeAll(async () => {
  await initBackend({ force: "wasm", log: () => {} });
});

/**
 * dxCancels: with one or two samples per channel the normalized output hardly depends on x (with
 * one it is beta; with two, beta +- gamma * |d| / sqrt(d^2 + eps)), so dx is what is left when
 * terms of size gamma/std * dy cancel, and both paths carry rounding of those terms: there the
 * difference is measured against the cancelling terms instead of against dx itself.
 */
type LayerCase = { shape: number[]; momentum?: number; epsilon?: number; axis?: number; offset?: number; fused: boolean; dxCancels?: boolean };

const layerCases: [string, LayerCase][] = [
  ["NHWC batch 1, 5 channels", { shape: [1, 3, 3, 5], fused: true }],
  ["NHWC batch 2, 7 channels", { shape: [2, 4, 3, 7], momentum: 0.9, fused: true }],
  ["NHWC batch 3, 9 channels (two groups of four and one)", { shape: [3, 5, 4, 9], epsilon: 1e-5, fused: true }],
  ["NHWC 3 channels only", { shape: [2, 6, 6, 3], fused: true }],
  ["NHWC, channel means near 40 (the one-pass variance must not cancel)", { shape: [2, 4, 4, 6], offset: 40, fused: true }],
  ["rank 2 (after a dense layer), batch 3", { shape: [3, 5], fused: true }],
  ["rank 2, batch 2", { shape: [2, 5], fused: true, dxCancels: true }],
  ["rank 2, batch 1: zero variance", { shape: [1, 6], fused: true, dxCancels: true }],
  ["rank 3", { shape: [2, 3, 5], momentum: 0.5, fused: true }],
  ["axis 1 of NHWC: not fusable, tfjs' own path", { shape: [2, 3, 4, 5], axis: 1, fused: false }],
];

/**
 * One training-mode call of a BatchNormalization layer with set weights, on `backend`: the output,
 * the gradients of x, gamma and beta for a seeded dy, then the moving mean and variance after
 * that one call; and the kernels a training call runs there, to show which path was taken.
 */
async function layerRun(backend: string, c: LayerCase, seed: number): Promise<{ values: Float32Array[]; kernels: string[] }> {
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} failed to initialise`);
  const size = tf.util.sizeFromShape(c.shape);
  const axis = c.axis ?? -1;
  const channels = c.shape[axis < 0 ? c.shape.length + axis : axis];
  const layer = tf.layers.batchNormalization({ axis, momentum: c.momentum, epsilon: c.epsilon });
  const x = tf.tensor(seededValues(size, seed).map((v) => v * 2 + (c.offset ?? 0)), c.shape);
  const dy = tf.tensor(seededValues(size, seed + 1), c.shape);
  layer.apply(x, { training: false }); // builds the weights
  const perChannel = (s: number, scale: number, shift: number) => tf.tensor1d(seededValues(channels, s).map((v) => v * scale + shift));
  const initial = [perChannel(seed + 2, 0.5, 1), perChannel(seed + 3, 0.5, 0), perChannel(seed + 4, 1, 0), perChannel(seed + 5, 0.4, 1)];
  layer.setWeights(initial);
  const [gamma, beta] = layer.trainableWeights.map((w) => w.read());
  const { value, grads } = tf.engine().gradients(() => layer.apply(x, { training: true }) as tf.Tensor, [x, gamma, beta], dy);
  const tensors = [value, ...grads, ...layer.getWeights().slice(2).map((w) => w.clone())];
  const info = await tf.profile(() => tf.tidy(() => void layer.apply(x, { training: true })));
  const values = await Promise.all(tensors.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose([x, dy, ...initial, ...tensors]);
  layer.dispose();
  return { values, kernels: info.kernelNames };
}

describe("fused BatchNorm training matches tfjs' path on the cpu backend", () => {
  const names = ["y", "dx", "dgamma", "dbeta", "moving mean", "moving variance"];
  it.each(layerCases.map(([name, c], i) => [name, c, i] as const))("%s", async (_name, c, i) => {
    const ref = await layerRun("cpu", c, 10 * i + 1);
    const got = await layerRun("wasm", c, 10 * i + 1);
    expect(ref.kernels).not.toContain(BATCH_NORM_TRAINING); // cpu: tfjs' own path is the reference
    expect(got.kernels.includes(BATCH_NORM_TRAINING)).toBe(c.fused);
    names.forEach((name, k) => {
      if (name === "dx" && c.dxCancels) {
        const cancelling = 1.5 / Math.sqrt(c.epsilon ?? 1e-3); // gamma <= 1.5, std >= sqrt(eps), |dy| <= 1
        const difference = got.values[k].map((v, j) => v - ref.values[k][j]);
        expect(maxAbs(difference), name).toBeLessThanOrEqual(TOLERANCE * cancelling);
      } else expect(relativeError(got.values[k], ref.values[k]), name).toBeLessThanOrEqual(TOLERANCE);
    });
  });

  it("with the fused path switched off (as the bench compares), wasm runs tfjs' path and agrees too", async () => {
    const c = layerCases[1][1];
    const ref = await layerRun("cpu", c, 7);
    setFusedBatchNorm(false);
    try {
      const got = await layerRun("wasm", c, 7);
      expect(got.kernels).not.toContain(BATCH_NORM_TRAINING);
      names.forEach((name, k) => expect(relativeError(got.values[k], ref.values[k]), name).toBeLessThanOrEqual(1e-4));
    } finally {
      setFusedBatchNorm(true);
    }
  });

  it("inference is untouched: tfjs' FusedBatchNorm on the moving statistics, the same bits with the fused path on or off", async () => {
    await tf.setBackend("wasm");
    const layer = tf.layers.batchNormalization({});
    const x = tf.tensor4d(seededValues(2 * 3 * 3 * 5, 3), [2, 3, 3, 5]);
    layer.apply(x);
    const weights = [tf.fill([5], 1.5), tf.fill([5], 0.25), tf.fill([5], 0.1), tf.fill([5], 2)];
    layer.setWeights(weights);
    const info = await tf.profile(() => tf.tidy(() => void layer.apply(x, { training: false })));
    expect(info.kernelNames).toContain("FusedBatchNorm");
    expect(info.kernelNames).not.toContain(BATCH_NORM_TRAINING);
    const on = tf.tidy(() => (layer.apply(x, { training: false }) as tf.Tensor).dataSync().slice());
    setFusedBatchNorm(false);
    const off = tf.tidy(() => (layer.apply(x, { training: false }) as tf.Tensor).dataSync().slice());
    setFusedBatchNorm(true);
    expect(on).toEqual(off);
    tf.dispose([x, ...weights]);
    layer.dispose();
  });
});

describe("the fused kernel's gradient also carries gradients that reach the batch mean and variance", () => {
  // tf.layers only feeds the batch statistics to the moving averages (no gradient flows back
  // through them), but the op is general: compare with tf.moments + tf.batchNorm when it does.
  const shape = [2, 3, 4, 6];
  const size = tf.util.sizeFromShape(shape);
  const run = (fused: boolean) => () => {
    const x = tf.tensor(seededValues(size, 21).map((v) => 3 * v + 1), shape);
    const gamma = tf.tensor1d(seededValues(6, 22).map((v) => v + 1.5));
    const beta = tf.tensor1d(seededValues(6, 23));
    const dy = tf.tensor(seededValues(size, 24), shape);
    const wMean = tf.tensor1d(seededValues(6, 25));
    const wVariance = tf.tensor1d(seededValues(6, 26));
    const f = (xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      let y: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor;
      if (fused) [y, mean, variance] = batchNormTraining(xi, g as tf.Tensor1D, b as tf.Tensor1D, 1e-3);
      else {
        ({ mean, variance } = tf.moments(xi, [0, 1, 2]));
        y = tf.batchNorm(xi, mean, variance, b, g, 1e-3);
      }
      return tf.addN([tf.sum(tf.mul(y, dy)), tf.sum(tf.mul(mean, wMean)), tf.sum(tf.mul(variance, wVariance))]);
    };
    const grads = tf.grads(f)([x, gamma, beta]);
    tf.dispose([x, gamma, beta, dy, wMean, wVariance]);
    return grads;
  };

  it("dx, dgamma, dbeta equal tf.moments + tf.batchNorm on cpu", async () => {
    const ref = await onBackend("cpu", run(false));
    const got = await onBackend("wasm", run(true));
    ["dx", "dgamma", "dbeta"].forEach((name, k) => expect(relativeError(got[k], ref[k]), name).toBeLessThanOrEqual(TOLERANCE));
  });

  it("registers on wasm only: other backends keep tfjs' path", () => {
    expect(tf.getKernel(BATCH_NORM_TRAINING, "wasm")).toBeTruthy();
    expect(tf.getKernel(BATCH_NORM_TRAINING_GRAD, "wasm")).toBeTruthy();
    expect(tf.getKernel(BATCH_NORM_TRAINING, "cpu")).toBeUndefined();
  });
});

describe("wasm Identity and same-dtype Cast share the buffer instead of copying it", () => {
  it("a clone outlives its source and keeps the values; a cast to another dtype still converts", async () => {
    await tf.setBackend("wasm");
    const x = tf.tensor2d([1.5, -2, 3.25, 4], [2, 2]);
    const buffersBefore = tf.backend().numDataIds();
    const cloned = tf.clone(x);
    const sameType = tf.cast(x, "float32");
    expect(tf.backend().numDataIds()).toBe(buffersBefore); // no new buffer on the backend
    x.dispose();
    expect(Array.from(cloned.dataSync())).toEqual([1.5, -2, 3.25, 4]);
    cloned.dispose();
    expect(Array.from(sameType.dataSync())).toEqual([1.5, -2, 3.25, 4]);
    const ints = tf.cast(sameType, "int32");
    expect(ints.dtype).toBe("int32");
    expect(Array.from(ints.dataSync())).toEqual([1, -2, 3, 4]);
    const bools = tf.greater(tf.tensor1d([0, 2, 0]), 1);
    expect(Array.from(tf.cast(bools, "float32").dataSync())).toEqual([0, 1, 0]);
    tf.dispose([sameType, ints, bools]);
  });
});
