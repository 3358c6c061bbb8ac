/**
 * Every gradient kernel the project supplies for wasm, checked against the cpu backend's own
 * kernels on the same inputs and the same upstream gradient dy.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend";
import { onBackend, relativeError, seededValues } from "../testing";
import * as tf from "../tf";
import { BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD } from "./batch_norm_training";
import { registerWasmTrainingKernels } from "./index";

const TOLERANCE = 1e-4;

beforeAll(async () => {
  await initBackend({ force: "wasm", log: () => {} });
});

type ConvCase = { x: [number, number, number, number]; filter: [number, number, number, number]; stride: 1 | 2; pad: "same" | "valid" };

const convCases: ConvCase[] = [
  { x: [1, 8, 8, 3], filter: [3, 3, 3, 4], stride: 1, pad: "same" },
  { x: [3, 9, 7, 5], filter: [3, 3, 5, 6], stride: 1, pad: "valid" },
  { x: [2, 16, 16, 8], filter: [3, 3, 8, 16], stride: 2, pad: "same" },
  { x: [2, 11, 9, 5], filter: [3, 3, 5, 7], stride: 2, pad: "same" },
  { x: [3, 11, 9, 5], filter: [3, 3, 5, 7], stride: 2, pad: "valid" },
  { x: [2, 10, 10, 4], filter: [3, 3, 4, 4], stride: 2, pad: "valid" },
  { x: [4, 8, 8, 6], filter: [1, 1, 6, 12], stride: 1, pad: "same" },
  { x: [2, 16, 16, 8], filter: [1, 1, 8, 16], stride: 2, pad: "same" },
  // 1x1 stride 2 on an odd size: the fast input gradient hands this one to the shipped kernel
  { x: [1, 7, 9, 3], filter: [1, 1, 3, 5], stride: 2, pad: "same" },
  { x: [2, 12, 12, 3], filter: [5, 5, 3, 4], stride: 1, pad: "valid" },
];

function convGrads(c: ConvCase, seed: number): () => tf.Tensor[] {
  const xValues = seededValues(tf.util.sizeFromShape(c.x), seed);
  const wValues = seededValues(tf.util.sizeFromShape(c.filter), seed + 1);
  return () => {
    const x = tf.tensor4d(xValues, c.x);
    const w = tf.tensor4d(wValues, c.filter);
    const conv = (xi: tf.Tensor, wi: tf.Tensor) => tf.conv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, c.stride, c.pad);
    const outShape = tf.tidy(() => conv(x, w).shape);
    const dy = tf.tensor4d(seededValues(tf.util.sizeFromShape(outShape), seed + 2), outShape);
    const [dx, dw] = tf.grads(conv)([x, w], dy);
    tf.dispose([x, w, dy]);
    return [dx, dw];
  };
}

describe("wasm conv2d gradients match the cpu backend", () => {
  it.each(convCases.map((c, i) => [`x${c.x.join("x")} f${c.filter.slice(0, 2).join("x")} s${c.stride} ${c.pad}`, c, i] as const))(
    "%s",
    async (_name, c, i) => {
      const [dxRef, dwRef] = await onBackend("cpu", convGrads(c, 100 * i));
      const [dx, dw] = await onBackend("wasm", convGrads(c, 100 * i));
      expect(relativeError(dx, dxRef), "input gradient").toBeLessThanOrEqual(TOLERANCE);
      expect(relativeError(dw, dwRef), "filter gradient").toBeLessThanOrEqual(TOLERANCE);
    },
  );
});

// tfjs-core's depthwise gradient refuses dilation > 1 itself, so only undilated cases are trained.
type DepthwiseCase = { x: [number, number, number, number]; filter: [number, number, number, number]; stride: 1 | 2; pad: "same" | "valid" };

const depthwiseCases: DepthwiseCase[] = [
  { x: [2, 8, 8, 4], filter: [3, 3, 4, 1], stride: 1, pad: "same" },
  { x: [3, 9, 7, 5], filter: [3, 3, 5, 1], stride: 1, pad: "valid" },
  { x: [2, 16, 16, 8], filter: [3, 3, 8, 1], stride: 2, pad: "same" },
  { x: [2, 11, 9, 5], filter: [3, 3, 5, 1], stride: 2, pad: "same" },
  { x: [3, 11, 9, 5], filter: [3, 3, 5, 1], stride: 2, pad: "valid" },
  { x: [2, 10, 10, 6], filter: [3, 3, 6, 1], stride: 2, pad: "valid" },
  { x: [1, 7, 7, 3], filter: [5, 5, 3, 1], stride: 1, pad: "same" },
  { x: [2, 9, 8, 3], filter: [3, 3, 3, 2], stride: 1, pad: "same" },
  { x: [2, 9, 8, 3], filter: [3, 3, 3, 3], stride: 2, pad: "same" },
];

function depthwiseGrads(c: DepthwiseCase, seed: number): () => tf.Tensor[] {
  const xValues = seededValues(tf.util.sizeFromShape(c.x), seed);
  const wValues = seededValues(tf.util.sizeFromShape(c.filter), seed + 1);
  return () => {
    const x = tf.tensor4d(xValues, c.x);
    const w = tf.tensor4d(wValues, c.filter);
    const conv = (xi: tf.Tensor, wi: tf.Tensor) =>
      tf.depthwiseConv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, c.stride, c.pad);
    const y = conv(x, w);
    const dy = tf.tensor4d(seededValues(tf.util.sizeFromShape(y.shape), seed + 2), y.shape as [number, number, number, number]);
    const grads = tf.grads(conv)([x, w], dy);
    tf.dispose([x, w, dy]);
    return [y, ...grads];
  };
}

describe("wasm depthwise conv forward and gradients match the cpu backend", () => {
  it.each(depthwiseCases.map((c, i) => [`x${c.x.join("x")} f${c.filter.join("x")} s${c.stride} ${c.pad}`, c, i] as const))(
    "%s",
    async (_name, c, i) => {
      const ref = await onBackend("cpu", depthwiseGrads(c, 50 * i));
      const got = await onBackend("wasm", depthwiseGrads(c, 50 * i));
      expect(got.map((t) => t.length)).toEqual(ref.map((t) => t.length));
      expect(relativeError(got[0], ref[0]), "forward").toBeLessThanOrEqual(TOLERANCE);
      expect(relativeError(got[1], ref[1]), "input gradient").toBeLessThanOrEqual(TOLERANCE);
      expect(relativeError(got[2], ref[2]), "filter gradient").toBeLessThanOrEqual(TOLERANCE);
    },
  );

});

describe("wasm Sum and Mean over leading axes match the cpu backend", () => {
  const shape: [number, number, number, number] = [4, 6, 6, 5];
  const values = seededValues(tf.util.sizeFromShape(shape), 7);
  it.each([
    ["Sum over N,H,W", (x: tf.Tensor) => tf.sum(x, [0, 1, 2])],
    ["Mean over N,H,W keepDims", (x: tf.Tensor) => tf.mean(x, [0, 1, 2], true)],
    ["Mean over N,H (block of 8 rows)", (x: tf.Tensor) => tf.mean(tf.reshape(x, [3, 8, 6, 5]), [0, 1])],
    ["Sum over N (too few rows to block: shipped path)", (x: tf.Tensor) => tf.sum(x, 0)],
    ["Sum over inner axes (shipped path)", (x: tf.Tensor) => tf.sum(x, [2, 3])],
  ] as const)("%s", async (_name, reduce) => {
    const shapes: number[][] = [];
    const run = () => {
      const out = tf.tidy(() => reduce(tf.tensor4d(values, shape)));
      shapes.push(out.shape);
      return [out];
    };
    const [ref] = await onBackend("cpu", run);
    const [got] = await onBackend("wasm", run);
    expect(shapes[1]).toEqual(shapes[0]);
    expect(relativeError(got, ref)).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe("registerWasmTrainingKernels", () => {
  it("is idempotent: a second call changes nothing and does not throw", () => {
    const names = [
      "Conv2DBackpropFilter",
      "Conv2DBackpropInput",
      "DepthwiseConv2dNativeBackpropInput",
      "DepthwiseConv2dNativeBackpropFilter",
      "Sum",
      "Mean",
      "Identity",
      "Cast",
      BATCH_NORM_TRAINING,
      BATCH_NORM_TRAINING_GRAD,
    ];
    const before = names.map((n) => tf.getKernel(n, "wasm")?.kernelFunc);
    const gradsBefore = [tf.FusedBatchNorm, BATCH_NORM_TRAINING].map((n) => tf.getGradient(n));
    registerWasmTrainingKernels();
    registerWasmTrainingKernels();
    expect(names.map((n) => tf.getKernel(n, "wasm")?.kernelFunc)).toEqual(before);
    expect([tf.FusedBatchNorm, BATCH_NORM_TRAINING].map((n) => tf.getGradient(n))).toEqual(gradsBefore);
  });
});
