/**
 * Conv2DBackpropFilter for the wasm backend, which ships without it (training a conv net on wasm
 * otherwise throws "Kernel 'Conv2DBackpropFilter' not registered").
 *
 * Why the filter gradient is itself a forward convolution: for a conv with stride s,
 *   dW[kh, kw, ci, co] = sum over n, oh, ow of  xPadded[n, oh*s + kh, ow*s + kw, ci] * dy[n, oh, ow, co].
 * Rename the axes: let ci play the batch, n play the input channel, and (oh, ow) the filter taps:
 *   x'[ci, h, w, n] = x[n, h, w, ci]          (batch <-> channels swapped)
 *   f'[oh, ow, n, co] = dy[n, oh, ow, co]     (dy becomes the filter)
 *   dW'[ci, kh, kw, co] = sum over oh, ow, n of x'Padded[ci, kh + oh*s, kw + ow*s, n] * f'[oh, ow, n, co]
 * which is conv2d(x', f') with stride 1 and DILATION s (the taps are s apart), the same
 * top/left padding as the forward conv, output [Ci, KH, KW, Co] -> transposed to [KH, KW, Ci, Co].
 * So the backend's XNNPACK convolution does the work instead of a scalar loop.
 *
 * 1x1 convs take one plain GEMM instead (gemmFilterGrad1x1, 1.4-4x faster). For larger filters the
 * dilated conv stayed: every GEMM-shaped alternative measured slower on the bench model's 3x3
 * convs (FIXLABEL_WASM_THREADS=1, AMD EPYC, same-run interleaved medians):
 *  - a GEMM per filter tap over strided slices of x (0.5-0.9x: the wasm Slice kernel is JS and
 *    copies its whole input on every call; StridedSlice is a scalar loop, 10x slower still);
 *  - the same with taps as flat shifts of a channel-major x (contiguous 2-D slices, 0.5-0.8x);
 *  - im2col by one depthwise conv with a one-hot filter, then one GEMM (0.24-0.87x);
 *  - the width taps folded into the contraction (Conv2D over [1, H, Ci, W*N], 0.35-0.72x);
 *  - splitting the batch (0.25-0.6x: the contraction per tap, N, gets short) or the output rows
 *    (no change: the dilated conv is not bound by re-reading dy) into several calls.
 */
import * as tf from "../tf";
import {
  blockedRowsToColumns,
  copyOf,
  free,
  fromFloats,
  moveLeadingAxisToThird,
  nhwcToChwn,
  runWasmKernel,
  view,
  type CompositeKernel,
  type TensorInfo,
} from "./wasm_kernel_utils";

export function conv2DBackpropFilterInfo(x: TensorInfo, attrs: tf.Conv2DBackpropFilterAttrs): tf.backend_util.Conv2DInfo {
  const { strides, pad, dimRoundingMode, filterShape } = attrs;
  return tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode);
}

/** [M, C] -> [C, M]: blocked passes where M allows, else the backend's rank-2 transpose. */
function rowsToColumns(backend: tf.KernelBackend, x: TensorInfo, m: number, c: number): TensorInfo {
  return blockedRowsToColumns(backend, x, m, c) ?? runWasmKernel("Transpose", backend, { x: view(x, [m, c]) }, { perm: [1, 0] });
}

/** out [M, N] = a [M, K] . b [K, N] as a 1x1 Conv2D (XNNPACK's GEMM); b becomes the filter, which XNNPACK packs. */
function gemm(backend: tf.KernelBackend, a: TensorInfo, b: TensorInfo, m: number, k: number, n: number): TensorInfo {
  const out = runWasmKernel("Conv2D", backend, { x: view(a, [1, 1, m, k]), filter: view(b, [1, 1, k, n]) }, {
    strides: [1, 1],
    dilations: [1, 1],
    pad: "valid",
    dataFormat: "NHWC",
  });
  return view(out, [m, n]);
}

/**
 * A 1x1 conv's filter gradient is one matrix product over the pixels p = (n, oh, ow):
 *   dW[ci, co] = sum over p of x[p, ci] * dy[p, co] = (x^T dy)[ci, co] = (dy^T x)^T[ci, co],
 * run as XNNPACK's GEMM through a 1x1 Conv2D (BatchMatMul's XNNPACK path only takes batch-1
 * products without transposes, and runs without the thread pool). The GEMM packs its right-hand
 * operand, [P, C] with C the fewer of Ci and Co, each call; the other operand is transposed to
 * [C', P]. The packed operand is a tensor this function owns and frees (see copyOf). A strided
 * 1x1 conv first picks every s-th pixel with a 1x1 depthwise conv of ones (exact: multiplies by 1).
 * Null where it does not apply: other filter sizes, or padding (only explicit on a 1x1 conv).
 */
export function gemmFilterGrad1x1(backend: tf.KernelBackend, x: TensorInfo, dy: TensorInfo, info: tf.backend_util.Conv2DInfo): TensorInfo | null {
  const { strideHeight, strideWidth, outHeight, outWidth, inChannels: ci, outChannels: co } = info;
  if (conv2DBackpropFilterRoute(info) !== "1x1 GEMM") return null;
  const p = x.shape[0] * outHeight * outWidth;
  let picked = x;
  if (strideHeight > 1 || strideWidth > 1) {
    const ones = fromFloats(backend, [1, 1, ci, 1], new Float32Array(ci).fill(1));
    picked = runWasmKernel("DepthwiseConv2dNative", backend, { x, filter: ones }, {
      strides: [strideHeight, strideWidth],
      dilations: [1, 1],
      pad: "valid",
      dataFormat: "NHWC",
    });
    free(backend, ones); // unpadded, so the picked grid is exactly [N, OH, OW, Ci]
  }
  const ownPicked = picked !== x;
  if (ci <= co) {
    // dW^T [Co, Ci] = dy^T [Co, P] . x [P, Ci]
    const dyT = rowsToColumns(backend, dy, p, co);
    const xOwned = ownPicked ? picked : copyOf(backend, picked);
    const dwT = gemm(backend, dyT, xOwned, co, p, ci);
    free(backend, dyT, xOwned);
    const dw = rowsToColumns(backend, dwT, co, ci);
    free(backend, dwT);
    return view(dw, [1, 1, ci, co]);
  }
  // dW [Ci, Co] = x^T [Ci, P] . dy [P, Co]
  const xT = rowsToColumns(backend, picked, p, ci);
  if (ownPicked) free(backend, picked);
  const dyOwned = copyOf(backend, dy);
  const dw = gemm(backend, xT, dyOwned, ci, p, co);
  free(backend, xT, dyOwned);
  return view(dw, [1, 1, ci, co]);
}

export type FilterGradRoute = "1x1 GEMM" | "dilated conv";

/** Which route conv2DBackpropFilterWasm takes for a conv (for tests and the bench). */
export function conv2DBackpropFilterRoute(info: tf.backend_util.Conv2DInfo): FilterGradRoute {
  const { filterHeight, filterWidth, padInfo } = info;
  const unpadded = padInfo.top === 0 && padInfo.left === 0 && padInfo.bottom === 0 && padInfo.right === 0;
  return filterHeight === 1 && filterWidth === 1 && unpadded ? "1x1 GEMM" : "dilated conv";
}

/** The filter gradient as a dilated XNNPACK conv of x with dy as the filter (see the top of the file). */
export function dilatedConvFilterGrad(backend: tf.KernelBackend, x: TensorInfo, dy: TensorInfo, info: tf.backend_util.Conv2DInfo): TensorInfo {
  const { strideHeight, strideWidth, filterHeight, filterWidth, outHeight, outWidth, inHeight, inWidth, padInfo } = info;
  // Pad bottom/right so that exactly KH x KW outputs come out; when the forward conv ignored
  // trailing input rows (VALID, stride > 1) this is negative: pad 0 and slice the extra rows off.
  const bottom = filterHeight + (outHeight - 1) * strideHeight - inHeight - padInfo.top;
  const right = filterWidth + (outWidth - 1) * strideWidth - inWidth - padInfo.left;

  const xSwapped = nhwcToChwn(backend, x); // [Ci, H, W, N]
  const dyAsFilter = moveLeadingAxisToThird(backend, dy); // [OH, OW, N, Co]
  let grad = runWasmKernel(
    "Conv2D",
    backend,
    { x: xSwapped, filter: dyAsFilter },
    {
      strides: [1, 1],
      dilations: [strideHeight, strideWidth],
      pad: [
        [0, 0],
        [padInfo.top, Math.max(0, bottom)],
        [padInfo.left, Math.max(0, right)],
        [0, 0],
      ],
      dataFormat: "NHWC",
    },
  ); // [Ci, KH', KW', Co]
  free(backend, xSwapped, dyAsFilter);
  if (grad.shape[1] !== filterHeight || grad.shape[2] !== filterWidth) {
    const cropped = runWasmKernel("Slice", backend, { x: grad }, { begin: [0, 0, 0, 0], size: [-1, filterHeight, filterWidth, -1] });
    free(backend, grad);
    grad = cropped;
  }
  const [ci, , , co] = grad.shape;
  // [Ci, KH, KW, Co] -> [KH, KW, Ci, Co]: viewed as [Ci, KH*KW, Co] this moves whole rows of Co.
  const dw = runWasmKernel("Transpose", backend, { x: view(grad, [ci, filterHeight * filterWidth, co]) }, { perm: [1, 0, 2] });
  free(backend, grad);
  return view(dw, [filterHeight, filterWidth, ci, co]);
}

export const conv2DBackpropFilterWasm: CompositeKernel = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const filterAttrs = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (filterAttrs.dataFormat === "NCHW") throw new Error("wasm Conv2DBackpropFilter supports NHWC only");
  const info = conv2DBackpropFilterInfo(x, filterAttrs);
  return gemmFilterGrad1x1(backend, x, dy, info) ?? dilatedConvFilterGrad(backend, x, dy, info);
};
