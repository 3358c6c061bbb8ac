/**
 * Every gradient kernel the project supplies for wasm, checked against the cpu backend's own
 * kernels on the same inputs and the same upstream gradient dy (the conv cases also check that
 * every route frees its intermediate wasm buffers).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend";
import { onBackend, relativeError, seededValues } from "../testing";
import * as tf from "../tf";
import { BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD } from "./batch_norm_training";
import { conv2DBackpropFilterRoute, type FilterGradRoute } from "./conv2d_backprop_filter";
import { conv2DBackpropInputRoute, type InputGradRoute } from "./conv2d_backprop_input";
import { registerWasmTrainingKernels } from "./index";

const TOLERANCE = 1e-4;

beforeAll(async () => {
  await initBackend({ force: "wasm", log: () => {} });
});

type Padding = "same" | "valid" | [[number, number], [number, number], [number, number], [number, number]];
type ConvCase = {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  stride: number | [number, number];
  pad: Padding;
  /** the routes the wasm kernels must take, so each route is checked where it is meant to run */
  dx: InputGradRoute;
  dw: FilterGradRoute;
};

function explicit(top: number, bottom: number, left: number, right: number): Padding {
  return [[0, 0], [top, bottom], [left, right], [0, 0]];
}

const convCases: ConvCase[] = [
  { x: [1, 8, 8, 3], filter: [3, 3, 3, 4], stride: 1, pad: "same", dx: "upsampled", dw: "dilated conv" },
  { x: [3, 9, 7, 5], filter: [3, 3, 5, 6], stride: 1, pad: "valid", dx: "upsampled", dw: "dilated conv" },
  { x: [2, 16, 16, 8], filter: [3, 3, 8, 16], stride: 2, pad: "same", dx: "sub-pixel", dw: "dilated conv" },
  { x: [2, 11, 9, 5], filter: [3, 3, 5, 7], stride: 2, pad: "same", dx: "sub-pixel", dw: "dilated conv" },
  { x: [3, 11, 9, 5], filter: [3, 3, 5, 7], stride: 2, pad: "valid", dx: "sub-pixel", dw: "dilated conv" },
  { x: [2, 10, 10, 4], filter: [3, 3, 4, 4], stride: 2, pad: "valid", dx: "sub-pixel", dw: "dilated conv" },
  { x: [4, 8, 8, 6], filter: [1, 1, 6, 12], stride: 1, pad: "same", dx: "upsampled", dw: "1x1 GEMM" },
  { x: [2, 16, 16, 8], filter: [1, 1, 8, 16], stride: 2, pad: "same", dx: "sub-pixel", dw: "1x1 GEMM" },
  // 1x1 stride 2 on odd sizes: the zero-upsampling route would need a crop here
  { x: [1, 7, 9, 3], filter: [1, 1, 3, 5], stride: 2, pad: "same", dx: "sub-pixel", dw: "1x1 GEMM" },
  { x: [2, 7, 9, 3], filter: [1, 1, 3, 5], stride: 2, pad: "valid", dx: "sub-pixel", dw: "1x1 GEMM" },
  // 1x1 GEMM with more input than output channels (the other operand order) and pixel counts
  // (126, 60) that the blocked transpose cannot split
  { x: [2, 9, 7, 12], filter: [1, 1, 12, 5], stride: 1, pad: "valid", dx: "upsampled", dw: "1x1 GEMM" },
  { x: [3, 9, 8, 10], filter: [1, 1, 10, 4], stride: 2, pad: "same", dx: "sub-pixel", dw: "1x1 GEMM" },
  { x: [2, 12, 12, 3], filter: [5, 5, 3, 4], stride: 1, pad: "valid", dx: "upsampled", dw: "dilated conv" },
  // 5x5 stride 2: 3x3 taps per phase, the last tap of phase 1 is past the filter (a zero)
  { x: [2, 13, 10, 3], filter: [5, 5, 3, 5], stride: 2, pad: "same", dx: "sub-pixel", dw: "dilated conv" },
  { x: [1, 12, 11, 4], filter: [5, 5, 4, 3], stride: 2, pad: "valid", dx: "sub-pixel", dw: "dilated conv" },
  // stride 3 (more phases than the stride-2 convs of our models) and unequal strides
  { x: [2, 14, 13, 3], filter: [3, 3, 3, 5], stride: 3, pad: "same", dx: "sub-pixel", dw: "dilated conv" },
  { x: [2, 9, 12, 5], filter: [3, 3, 5, 3], stride: [2, 1], pad: "same", dx: "sub-pixel", dw: "dilated conv" },
  { x: [2, 9, 12, 3], filter: [3, 5, 3, 2], stride: [1, 2], pad: "valid", dx: "sub-pixel", dw: "dilated conv" },
  // explicit paddings: uneven, a leading pad larger than the stride (the phase grid starts at q0 = 1)
  { x: [2, 10, 9, 3], filter: [3, 3, 3, 4], stride: 2, pad: explicit(1, 2, 0, 1), dx: "sub-pixel", dw: "dilated conv" },
  { x: [1, 11, 10, 3], filter: [5, 5, 3, 4], stride: 2, pad: explicit(3, 1, 2, 2), dx: "sub-pixel", dw: "dilated conv" },
  { x: [2, 8, 7, 5], filter: [3, 3, 5, 3], stride: 1, pad: explicit(2, 0, 1, 2), dx: "upsampled", dw: "dilated conv" },
  // dy rows that only see bottom padding: neither composite route applies, the shipped kernel runs
  { x: [1, 8, 8, 3], filter: [3, 3, 3, 2], stride: 2, pad: explicit(0, 5, 0, 5), dx: "shipped", dw: "dilated conv" },
  // a padded 1x1 conv: the filter gradient leaves the GEMM route for the dilated conv
  { x: [2, 6, 5, 3], filter: [1, 1, 3, 4], stride: 2, pad: explicit(1, 1, 0, 1), dx: "sub-pixel", dw: "dilated conv" },
];

function convName(c: ConvCase): string {
  const pad = typeof c.pad === "string" ? c.pad : `pad ${c.pad.slice(1, 3).map((p) => p.join(",")).join(" ")}`;
  return `x${c.x.join("x")} f${c.filter.slice(0, 2).join("x")} s${String(c.stride)} ${pad}: dx ${c.dx}, dW ${c.dw}`;
}

function convGrads(c: ConvCase, seed: number): () => tf.Tensor[] {
  const xValues = seededValues(tf.util.sizeFromShape(c.x), seed);
  const wValues = seededValues(tf.util.sizeFromShape(c.filter), seed + 1);
  return () => {
    const x = tf.tensor4d(xValues, c.x);
    const w = tf.tensor4d(wValues, c.filter);
    const conv = (xi: tf.Tensor, wi: tf.Tensor) => tf.conv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, c.stride, c.pad);
    const y = conv(x, w);
    const dy = tf.tensor4d(seededValues(tf.util.sizeFromShape(y.shape), seed + 2), y.shape as [number, number, number, number]);
    const [dx, dw] = tf.grads(conv)([x, w], dy);
    tf.dispose([x, w, dy]);
    return [y, dx, dw];
  };
}

describe("wasm conv2d gradients match the cpu backend", () => {
  it.each(convCases.map((c, i) => [convName(c), c, i] as const))("%s", async (_name, c, i) => {
    const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.stride, 1, c.pad);
    expect(conv2DBackpropInputRoute(info), "input gradient route").toBe(c.dx);
    expect(conv2DBackpropFilterRoute(info), "filter gradient route").toBe(c.dw);
    const [yRef, dxRef, dwRef] = await onBackend("cpu", convGrads(c, 100 * i));
    const dataIdsBefore = tf.findBackend("wasm")?.numDataIds();
    const [y, dx, dw] = await onBackend("wasm", convGrads(c, 100 * i));
    expect(tf.findBackend("wasm")?.numDataIds(), "wasm buffers left behind").toBe(dataIdsBefore);
    expect(relativeError(y, yRef), "forward").toBeLessThanOrEqual(TOLERANCE);
    expect(relativeError(dx, dxRef), "input gradient").toBeLessThanOrEqual(TOLERANCE);
    expect(relativeError(dw, dwRef), "filter gradient").toBeLessThanOrEqual(TOLERANCE);
  });
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
