/**
 * Sum and Mean over leading axes on the wasm backend.
 *
 * The shipped kernels reduce only innermost axes, so for a reduction over N, H, W of an NHWC
 * tensor (every BatchNorm statistic and its gradient) they first move C to the front with the
 * generic transpose, which is slow for this shape. Doing that transpose blocked
 * (wasm_kernel_utils.blockedRowsToColumns) and handing the shipped kernel a [C, M] tensor reduced
 * over its last axis gives the same numbers several times faster.
 */
import * as tf from "../tf";
import { blockedRowsToColumns, free, type CompositeKernel, type TensorInfo } from "./wasm_kernel_utils";

export function makeLeadingAxisReduction(shipped: tf.KernelFunc): CompositeKernel {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const x = inputs.x as TensorInfo;
    const { axis, keepDims } = attrs as unknown as tf.SumAttrs;
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const k = axes.length;
    const isLeading = k > 0 && k < rank && axes.every((a, i) => a === i);
    if (!isLeading || x.dtype !== "float32") return shipped(args) as TensorInfo;
    const kept = x.shape.slice(k);
    const m = tf.util.sizeFromShape(x.shape.slice(0, k));
    const c = tf.util.sizeFromShape(kept);
    const columns = c >= 2 ? blockedRowsToColumns(backend, x, m, c) : null;
    if (columns == null) return shipped(args) as TensorInfo;
    const out = shipped({ inputs: { x: columns }, backend, attrs: { axis: [1], keepDims: false } }) as TensorInfo;
    free(backend, columns);
    const shape = keepDims ? [...new Array<number>(k).fill(1), ...kept] : kept;
    return { dataId: out.dataId, shape, dtype: out.dtype };
  };
}
