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
 */
import * as tf from "../tf";
import { free, moveLeadingAxisToThird, nhwcToChwn, runWasmKernel, view, type CompositeKernel, type TensorInfo } from "./wasm_kernel_utils";

export const conv2DBackpropFilterWasm: CompositeKernel = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (dataFormat === "NCHW") throw new Error("wasm Conv2DBackpropFilter supports NHWC only");
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
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
};
