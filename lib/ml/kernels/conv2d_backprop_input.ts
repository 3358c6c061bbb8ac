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
 * For stride 2 that spends s^2 times the minimal multiplications on zeros, so strided convs take
 * the sub-pixel route below (stridedInputGrad) instead.
 */
import * as tf from "../tf";
import { free, fromFloats, readFloats, runWasmKernel, view, type CompositeKernel, type TensorInfo } from "./wasm_kernel_utils";

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

/** One spatial axis of a strided conv as stridedInputGrad sees it. */
type StridedAxis = {
  /** kernel taps K, stride s, input size, dy size, the forward conv's leading pad */
  k: number;
  s: number;
  size: number;
  outSize: number;
  pad: number;
  /** taps per phase, ceil(K/s); phases with a non-zero sub-filter, min(K, s) */
  taps: number;
  phases: number;
  /** first phase row q0 = floor(pad/s), rows of the phase grid, and dy's padding to produce them */
  q0: number;
  rows: number;
  padBefore: number;
  padAfter: number;
  /** where dx starts in the interleaved grid: pad - q0*s */
  offset: number;
};

function stridedAxis(k: number, s: number, size: number, outSize: number, pad: number): StridedAxis {
  const taps = Math.ceil(k / s);
  const q0 = Math.floor(pad / s);
  const rows = Math.floor((size - 1 + pad) / s) - q0 + 1;
  const padBefore = taps - 1 - q0;
  return { k, s, size, outSize, pad, taps, phases: Math.min(k, s), q0, rows, padBefore, padAfter: rows + taps - 1 - padBefore - outSize, offset: pad - q0 * s };
}

/**
 * The sub-pixel ("phase") filter: for input row h, u = h + pad = q*s + r; the forward conv sent
 * dy[q - j] there through tap k = r + j*s, so
 *   dx(phase r)[q] = sum_j dy[q - j] * w[r + j*s],
 * a stride-1 convolution of dy with the sub-filter of taps r, r+s, ... (flipped: index taps-1-j).
 * All phases go into one filter [tapsH, tapsW, Co, phasesH*phasesW*Ci] (the channel order
 * (rh, rw, ci) is what the interleave below expects); taps past K are zeros.
 */
function phaseFilter(w: Float32Array, kh: number, kw: number, ci: number, co: number, rows: StridedAxis, cols: StridedAxis): Float32Array {
  const outC = rows.phases * cols.phases * ci;
  const f = new Float32Array(rows.taps * cols.taps * co * outC);
  for (let ih = 0; ih < rows.taps; ih++)
    for (let rh = 0; rh < rows.phases; rh++) {
      const th = rh + (rows.taps - 1 - ih) * rows.s;
      if (th >= kh) continue;
      for (let iw = 0; iw < cols.taps; iw++)
        for (let rw = 0; rw < cols.phases; rw++) {
          const tw = rw + (cols.taps - 1 - iw) * cols.s;
          if (tw >= kw) continue;
          for (let c = 0; c < ci; c++) {
            const src = ((th * kw + tw) * ci + c) * co;
            const dst = (ih * cols.taps + iw) * co * outC + (rh * cols.phases + rw) * ci + c;
            for (let o = 0; o < co; o++) f[dst + o * outC] = w[src + o];
          }
        }
    }
  return f;
}

/**
 * dx of a strided conv as ONE stride-1 convolution of dy producing every phase of dx at once
 * (channels (rh, rw, ci)), then interleaved onto the input grid by a transpose: for a 3x3 stride-2
 * conv that is 2x2 taps x 4 phases = 16 multiply-adds per output against 36 on the zero-upsampled
 * grid (9 is the minimum). Phases that only ever meet zero taps (r >= K, e.g. 1x1 stride 2) are
 * not computed; a pad puts their zeros in place. Null when the padding needs a crop of dy.
 */
function stridedInputGrad(backend: tf.KernelBackend, dy: TensorInfo, filter: TensorInfo, rows: StridedAxis, cols: StridedAxis): TensorInfo | null {
  if (Math.min(rows.padBefore, rows.padAfter, cols.padBefore, cols.padAfter) < 0) return null;
  const [kh, kw, ci, co] = filter.shape;
  const n = dy.shape[0];
  const outC = rows.phases * cols.phases * ci;
  const phaseFilterInfo = fromFloats(backend, [rows.taps, cols.taps, co, outC], phaseFilter(readFloats(backend, filter), kh, kw, ci, co, rows, cols));
  const phased = runWasmKernel("Conv2D", backend, { x: dy, filter: phaseFilterInfo }, {
    strides: [1, 1],
    dilations: [1, 1],
    pad: [[0, 0], [rows.padBefore, rows.padAfter], [cols.padBefore, cols.padAfter], [0, 0]],
    dataFormat: "NHWC",
  }); // [N, rowsQ, colsQ, (rh, rw, ci)]
  free(backend, phaseFilterInfo);
  // [N*rowsQ, colsQ, rh, rw*ci] -> [N*rowsQ, rh, colsQ, rw*ci]: row phases become rows of the grid.
  let grid = phased;
  if (rows.phases > 1) {
    grid = runWasmKernel("Transpose", backend, { x: view(phased, [n * rows.rows, cols.rows, rows.phases, cols.phases * ci]) }, { perm: [0, 2, 1, 3] });
    free(backend, phased);
  }
  // Zero phases (taps K..s-1 do not exist) sit after the computed ones along each axis.
  if (rows.phases < rows.s || cols.phases < cols.s) {
    const padded = runWasmKernel("PadV2", backend, { x: view(grid, [n * rows.rows, rows.phases, cols.rows, cols.phases, ci]) }, {
      paddings: [[0, 0], [0, rows.s - rows.phases], [0, 0], [0, cols.s - cols.phases], [0, 0]],
      constantValue: 0,
    });
    free(backend, grid);
    grid = padded;
  }
  const gridH = rows.rows * rows.s;
  const gridW = cols.rows * cols.s;
  if (gridH === rows.size && gridW === cols.size) return view(grid, [n, rows.size, cols.size, ci]);
  // Crop [offset, offset + size) on both axes; as 3-D rows of W*Ci values the slice copies whole runs.
  const rowsCropped = runWasmKernel("Slice", backend, { x: view(grid, [n, gridH, gridW * ci]) }, {
    begin: [0, rows.offset, cols.offset * ci],
    size: [n, rows.size, cols.size * ci],
  });
  free(backend, grid);
  return view(rowsCropped, [n, rows.size, cols.size, ci]);
}

/**
 * dx as a stride-1 conv of the zero-upsampled dy with the flipped filter (see the top of the file).
 * Null when the padding would be negative (e.g. a 1x1 stride-2 'same' conv on an odd size).
 */
export function upsampledInputGrad(backend: tf.KernelBackend, dy: TensorInfo, filter: TensorInfo, info: tf.backend_util.Conv2DInfo): TensorInfo | null {
  const { filterHeight, filterWidth, inHeight, inWidth, outHeight, outWidth, strideHeight, strideWidth, padInfo } = info;
  const top = filterHeight - 1 - padInfo.top;
  const left = filterWidth - 1 - padInfo.left;
  // The upsampled dy has s*OH rows; the convolution must produce exactly H of them.
  const bottom = inHeight - strideHeight * outHeight + filterHeight - 1 - top;
  const right = inWidth - strideWidth * outWidth + filterWidth - 1 - left;
  if (Math.min(top, left, bottom, right) < 0) return null;

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
}

/** dx of a strided conv by the sub-pixel route; null where it does not apply (stride 1, or a crop of dy needed). */
export function subPixelInputGrad(backend: tf.KernelBackend, dy: TensorInfo, filter: TensorInfo, info: tf.backend_util.Conv2DInfo): TensorInfo | null {
  const { filterHeight, filterWidth, inHeight, inWidth, outHeight, outWidth, strideHeight, strideWidth, padInfo } = info;
  if (strideHeight === 1 && strideWidth === 1) return null;
  const rows = stridedAxis(filterHeight, strideHeight, inHeight, outHeight, padInfo.top);
  const cols = stridedAxis(filterWidth, strideWidth, inWidth, outWidth, padInfo.left);
  return stridedInputGrad(backend, dy, filter, rows, cols);
}

export type InputGradRoute = "sub-pixel" | "upsampled" | "shipped";

/** Which route makeConv2DBackpropInputWasm takes for a conv (for tests and the bench). */
export function conv2DBackpropInputRoute(info: tf.backend_util.Conv2DInfo): InputGradRoute {
  const { filterHeight, filterWidth, inHeight, inWidth, outHeight, outWidth, strideHeight, strideWidth, padInfo } = info;
  if (strideHeight > 1 || strideWidth > 1) {
    const rows = stridedAxis(filterHeight, strideHeight, inHeight, outHeight, padInfo.top);
    const cols = stridedAxis(filterWidth, strideWidth, inWidth, outWidth, padInfo.left);
    if (Math.min(rows.padBefore, rows.padAfter, cols.padBefore, cols.padAfter) >= 0) return "sub-pixel";
  }
  const top = filterHeight - 1 - padInfo.top;
  const left = filterWidth - 1 - padInfo.left;
  const bottom = inHeight - strideHeight * outHeight + filterHeight - 1 - top;
  const right = inWidth - strideWidth * outWidth + filterWidth - 1 - left;
  return Math.min(top, left, bottom, right) < 0 ? "shipped" : "upsampled";
}

export function conv2DBackpropInputInfo(filter: TensorInfo, attrs: tf.Conv2DBackpropInputAttrs): tf.backend_util.Conv2DInfo {
  const { strides, pad, dimRoundingMode, inputShape } = attrs;
  return tf.backend_util.computeConv2DInfo(inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode);
}

/**
 * Builds the kernel around the shipped one: strided convs take the sub-pixel route, stride 1 the
 * upsampled one (no zeros to upsample, the same multiply-adds as the forward conv), and the
 * shipped scalar kernel what neither covers (NCHW, paddings that would need a crop of dy).
 */
export function makeConv2DBackpropInputWasm(shipped: tf.KernelFunc): CompositeKernel {
  return (args) => {
    const { inputs, backend } = args;
    const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    if (attrs.dataFormat === "NCHW") return shipped(args) as TensorInfo;
    const info = conv2DBackpropInputInfo(filter, attrs);
    return subPixelInputGrad(backend, dy, filter, info) ?? upsampledInputGrad(backend, dy, filter, info) ?? (shipped(args) as TensorInfo);
  };
}
