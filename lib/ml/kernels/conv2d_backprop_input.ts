/**
 * A faster Conv2DBackpropInput for the wasm backend. The shipped kernel is a scalar C++ loop;
 * this one reuses the backend's XNNPACK forward convolution.
 *
 * Why dx is a forward convolution: the forward conv y[oh] = sum_k x[oh*s + k - top] w[k] sends
 * every dy[oh] back to x[oh*s + k - top]. Spread dy out onto the input grid first
 * (dyUp[oh*s] = dy[oh], zeros between: "zero-upsampling", nothing to do for stride 1); then
 *   dx[h] = sum_k dyUp[h + top - k] w[k] = sum_k' dyUpPadded[h + k'] w[KH-1-k'],
 * a stride-1 convolution of dyUp, padded by KH-1-top in front, with the spatially flipped filter.
 * Summing over output channels instead of input channels means the filter's channel axes swap:
 * [KH, KW, Ci, Co] -> reversed taps -> [KH, KW, Co, Ci]. (Same for the width axis.)
 * For stride 2 this spends s^2 times the minimal multiplications on zeros, and is still several
 * times faster than the shipped loop.
 */
import * as tf from "../tf";
import { free, runWasmKernel, view, type CompositeKernel, type TensorInfo } from "./wasm_kernel_utils";

/** Inserts s-1 zero rows after every row and s-1 zero columns after every column of dy. */
export function zeroUpsample(backend: tf.KernelBackend, dy: TensorInfo, sh: number, sw: number): TensorInfo {
  const [n, oh, ow, c] = dy.shape;
  // Two pads of views: [N*OH, 1, OW, C] padded to [N*OH, sh, OW, C] puts sh-1 zero rows after each
  // row; [N*OH*sh*OW, 1, 1, C] padded to [.., sw, 1, C] puts sw-1 zero pixels after each pixel.
  const rows = runWasmKernel("PadV2", backend, { x: view(dy, [n * oh, 1, ow, c]) }, {
    paddings: [[0, 0], [0, sh - 1], [0, 0], [0, 0]],
    constantValue: 0,
  });
  const both = runWasmKernel("PadV2", backend, { x: view(rows, [n * oh * sh * ow, 1, 1, c]) }, {
    paddings: [[0, 0], [0, sw - 1], [0, 0], [0, 0]],
    constantValue: 0,
  });
  free(backend, rows);
  return view(both, [n, oh * sh, ow * sw, c]);
}

/** Builds the kernel around the shipped one, which handles the cases the trick does not cover. */
export function makeConv2DBackpropInputWasm(shipped: tf.KernelFunc): CompositeKernel {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
    if (dataFormat === "NCHW") return shipped(args) as TensorInfo;
    const info = tf.backend_util.computeConv2DInfo(
      inputShape,
      filter.shape as [number, number, number, number],
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    const { filterHeight, filterWidth, inHeight, inWidth, outHeight, outWidth, strideHeight, strideWidth, padInfo } = info;
    const top = filterHeight - 1 - padInfo.top;
    const left = filterWidth - 1 - padInfo.left;
    // The upsampled dy has s*OH rows; the convolution must produce exactly H of them.
    const bottom = inHeight - strideHeight * outHeight + filterHeight - 1 - top;
    const right = inWidth - strideWidth * outWidth + filterWidth - 1 - left;
    // Negative padding (e.g. a 1x1 stride-2 'same' conv on an odd size) would need a crop: rare
    // enough in our models to leave to the shipped kernel.
    if (Math.min(top, left, bottom, right) < 0) return shipped(args) as TensorInfo;

    const strided = strideHeight > 1 || strideWidth > 1;
    const spread = strided ? zeroUpsample(backend, dy, strideHeight, strideWidth) : dy;
    const flipped = runWasmKernel("Reverse", backend, { x: filter }, { dims: [0, 1] });
    const flippedSwapped = runWasmKernel("Transpose", backend, { x: flipped }, { perm: [0, 1, 3, 2] });
    free(backend, flipped);
    const dx = runWasmKernel("Conv2D", backend, { x: spread, filter: flippedSwapped }, {
      strides: [1, 1],
      dilations: [1, 1],
      pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
      dataFormat: "NHWC",
    });
    free(backend, flippedSwapped);
    if (strided) free(backend, spread);
    return dx;
  };
}
