/**
 * The depthwise-convolution gradients tfjs-backend-wasm lacks (MobileNetV2's backward pass throws
 * "Kernel 'DepthwiseConv2dNativeBackpropInput' not registered" without them), built from the
 * backend's own kernels on TensorInfos (see wasm_kernel_utils.ts).
 *
 * Forward, channel multiplier M, filter [KH, KW, C, M]:
 *   y[n, p, q, c*M + m] = sum_{i,j} x[n, p*s + i*d - top, q*s + j*d - left, c] * w[i, j, c, m]
 * Input gradient: as for Conv2DBackpropInput (conv2d_backprop_input.ts), dy spread onto the input
 *   grid (zero-upsampled) and convolved, stride 1, with the spatially flipped filter; being
 *   depthwise, no channels mix: treat dy's C*M channels as a depthwise conv of multiplier 1 with the
 *   filter viewed as [KH, KW, C*M, 1], then sum each group of M channels. Needs dilation 1.
 * Filter gradient: for each tap (i, j), the strided slice of the padded input that tap reads,
 *   times dy, summed over batch and output pixels: KH*KW slices, products and leading-axis sums,
 *   exactly the multiply-adds of the forward pass.
 */
import * as tf from "../tf";
import { zeroUpsample } from "./conv2d_backprop_input";
import { free, runWasmKernel, view, type CompositeKernel, type TensorInfo } from "./wasm_kernel_utils";

type DepthwiseGradAttrs = {
  strides: [number, number] | number;
  dilations: [number, number] | number;
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: "floor" | "round" | "ceil";
};

function convInfo(xShape: number[], filterShape: number[], a: DepthwiseGradAttrs) {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides,
    a.dilations,
    a.pad,
    a.dimRoundingMode,
    true,
  );
}

export const depthwiseConv2dBackpropInputWasm: CompositeKernel = ({ inputs, backend, attrs }) => {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as DepthwiseGradAttrs & { inputShape: [number, number, number, number] };
  const info = convInfo(a.inputShape, filter.shape, a);
  const { filterHeight: kh, filterWidth: kw, inHeight, inWidth, outHeight, outWidth, strideHeight: sh, strideWidth: sw, padInfo } = info;
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) {
    throw new Error("DepthwiseConv2dNativeBackpropInput on wasm: dilated depthwise convolutions are not supported");
  }
  const [n, , , channels] = a.inputShape;
  const multiplier = filter.shape[3];
  const top = kh - 1 - padInfo.top;
  const left = kw - 1 - padInfo.left;
  const bottom = inHeight - sh * outHeight + kh - 1 - top;
  const right = inWidth - sw * outWidth + kw - 1 - left;

  const strided = sh > 1 || sw > 1;
  let spread = strided ? zeroUpsample(backend, dy, sh, sw) : dy;
  // A negative pad (the upsampled grid is longer than needed): crop the extra rows/columns.
  const cropBottom = Math.max(0, -bottom);
  const cropRight = Math.max(0, -right);
  if (cropBottom > 0 || cropRight > 0) {
    const [, uh, uw, uc] = spread.shape;
    const cropped = runWasmKernel("Slice", backend, { x: spread }, { begin: [0, 0, 0, 0], size: [n, uh - cropBottom, uw - cropRight, uc] });
    if (strided) free(backend, spread);
    spread = cropped;
  }
  const flipped = runWasmKernel("Reverse", backend, { x: filter }, { dims: [0, 1] });
  const perChannel = runWasmKernel("DepthwiseConv2dNative", backend, { x: spread, filter: view(flipped, [kh, kw, channels * multiplier, 1]) }, {
    strides: [1, 1],
    dilations: [1, 1],
    pad: [[0, 0], [top, Math.max(0, bottom)], [left, Math.max(0, right)], [0, 0]],
  });
  free(backend, flipped);
  if (spread !== dy) free(backend, spread);
  if (multiplier === 1) return perChannel;
  const dx = runWasmKernel("Sum", backend, { x: view(perChannel, [n, inHeight, inWidth, channels, multiplier]) }, { axis: [4], keepDims: false });
  free(backend, perChannel);
  return dx;
};

export const depthwiseConv2dBackpropFilterWasm: CompositeKernel = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as DepthwiseGradAttrs & { filterShape: [number, number, number, number] };
  const info = convInfo(x.shape, a.filterShape, a);
  const { filterHeight: kh, filterWidth: kw, outHeight, outWidth, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, padInfo } = info;
  const [n, h, w, channels] = x.shape;
  const multiplier = a.filterShape[3];
  // Pad so every tap's slice lies inside; extra rows at the bottom/right are never read.
  const padBottom = Math.max(0, (outHeight - 1) * sh + (kh - 1) * dh + 1 - padInfo.top - h);
  const padRight = Math.max(0, (outWidth - 1) * sw + (kw - 1) * dw + 1 - padInfo.left - w);
  const padded = runWasmKernel("PadV2", backend, { x }, {
    paddings: [[0, 0], [padInfo.top, padBottom], [padInfo.left, padRight], [0, 0]],
    constantValue: 0,
  });
  const dyGrouped = view(dy, [n, outHeight, outWidth, channels, multiplier]);
  const taps: TensorInfo[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const read = runWasmKernel("StridedSlice", backend, { x: padded }, {
        begin: [0, i * dh, j * dw, 0],
        end: [n, i * dh + (outHeight - 1) * sh + 1, j * dw + (outWidth - 1) * sw + 1, channels],
        strides: [1, sh, sw, 1],
        beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
      });
      const product = runWasmKernel("Multiply", backend, { a: view(read, [n, outHeight, outWidth, channels, 1]), b: dyGrouped });
      free(backend, read);
      const tap = runWasmKernel("Sum", backend, { x: view(product, [n * outHeight * outWidth, channels * multiplier]) }, { axis: [0], keepDims: false });
      free(backend, product);
      taps.push(view(tap, [1, channels * multiplier]));
    }
  }
  free(backend, padded);
  // Concat takes its inputs as an array, as tfjs-core passes them.
  const stacked = runWasmKernel("Concat", backend, taps as unknown as tf.NamedTensorInfoMap, { axis: 0 });
  free(backend, ...taps);
  return view(stacked, [kh, kw, channels, multiplier]);
};
