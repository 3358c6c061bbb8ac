/**
 * Helpers for composite kernels on the wasm backend: a composite kernel is a kernel function that
 * calls the backend's own kernel functions (XNNPACK convolutions, transposes, pads) directly on
 * TensorInfos. Calling tf ops inside a kernel would record them on the gradient tape and leak
 * tensors into the caller's scope, so intermediates here are plain data ids, freed by hand.
 */
import * as tf from "../tf";

export type TensorInfo = tf.TensorInfo;
export type KernelArgs = {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs?: tf.NamedAttrMap;
};
export type CompositeKernel = (args: KernelArgs) => TensorInfo;

export const WASM = "wasm";

/** Runs the kernel currently registered for `name` on the wasm backend. */
export function runWasmKernel(
  name: string,
  backend: tf.KernelBackend,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap = {},
): TensorInfo {
  const config = tf.getKernel(name, WASM);
  if (!config) throw new Error(`wasm kernel ${name} is not registered`);
  return config.kernelFunc({ inputs, backend, attrs }) as TensorInfo;
}

/** The same buffer under another shape (a free reshape: wasm kernels read shape from the info). */
export function view(t: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

export function free(backend: tf.KernelBackend, ...infos: TensorInfo[]): void {
  for (const t of infos) backend.disposeData(t.dataId);
}

/**
 * [A, B, C] -> [B, A, C]: moves contiguous rows of C values. The wasm backend's generic
 * transpose is fast for this pattern and for rank-2 swaps, but 5-10x slower on a 4-D permutation
 * such as [3, 1, 2, 0] (strided reads, no blocking), so 4-D transposes are built from these.
 */
function swapLeading(backend: tf.KernelBackend, x: TensorInfo, a: number, b: number, c: number): TensorInfo {
  return runWasmKernel("Transpose", backend, { x: view(x, [a, b, c]) }, { perm: [1, 0, 2] });
}

/** [A, B, C] -> [A, C, B]: a batch of 2-D transposes. */
function swapTrailing(backend: tf.KernelBackend, x: TensorInfo, a: number, b: number, c: number): TensorInfo {
  return runWasmKernel("Transpose", backend, { x: view(x, [a, b, c]) }, { perm: [0, 2, 1] });
}

/** NHWC [N, H, W, C] -> [C, H, W, N] (batch and channels swapped) in three cache-friendly passes. */
export function nhwcToChwn(backend: tf.KernelBackend, x: TensorInfo): TensorInfo {
  const [n, h, w, c] = x.shape;
  const hw = h * w;
  const pixelsFirst = swapLeading(backend, x, n, hw, c); // [HW, N, C]
  const channelsInner = swapTrailing(backend, pixelsFirst, hw, n, c); // [HW, C, N]
  free(backend, pixelsFirst);
  const out = swapLeading(backend, channelsInner, hw, c, n); // [C, HW, N]
  free(backend, channelsInner);
  return view(out, [c, h, w, n]);
}

/** [A, B, C, D] -> [B, C, A, D], i.e. perm [1, 2, 0, 3]: one row-moving pass. */
export function moveLeadingAxisToThird(backend: tf.KernelBackend, x: TensorInfo): TensorInfo {
  const [a, b, c, d] = x.shape;
  return view(swapLeading(backend, x, a, b * c, d), [b, c, a, d]);
}

/**
 * [M, C] (M = product of the leading axes) -> [C, M], blocked: [M/b, b, C] -> [M/b, C, b] ->
 * [C, M/b, b]. Each pass keeps b consecutive rows in cache. Null when M has no suitable block.
 */
export function blockedRowsToColumns(backend: tf.KernelBackend, x: TensorInfo, m: number, c: number): TensorInfo | null {
  const block = [64, 32, 16, 8].find((b) => m % b === 0 && m / b >= 2);
  if (block == null) return null;
  const blocksTransposed = swapTrailing(backend, x, m / block, block, c); // [M/b, C, b]
  const out = swapLeading(backend, blocksTransposed, m / block, c, block); // [C, M/b, b]
  free(backend, blocksTransposed);
  return view(out, [c, m]);
}

/** The values of a float32 tensor on the wasm backend (a synchronous read of its heap). */
export function readFloats(backend: tf.KernelBackend, t: TensorInfo): Float32Array {
  return backend.readSync(t.dataId) as Float32Array;
}

/** A new float32 tensor on the wasm backend holding `values` (for small tensors built in JS). */
export function fromFloats(backend: tf.KernelBackend, shape: number[], values: Float32Array): TensorInfo {
  const wasm = backend as unknown as { makeOutput(shape: number[], dtype: "float32", memoryOffset?: number, values?: Float32Array): TensorInfo };
  return wasm.makeOutput(shape, "float32", undefined, values);
}

/**
 * A copy of `t` under a new data id (a zero-width pad: one C++ pass). Conv2D caches its XNNPACK
 * operator, with a packed copy of the filter's values, until the filter tensor is disposed; a
 * kernel passing an input it does not own (say dy) as a filter would keep that packed copy alive
 * as long as the input lives, which during backprop is until every gradient is done.
 */
export function copyOf(backend: tf.KernelBackend, t: TensorInfo): TensorInfo {
  const size = t.shape.reduce((a, b) => a * b, 1);
  const copy = runWasmKernel("PadV2", backend, { x: view(t, [size]) }, { paddings: [[0, 0]], constantValue: 0 });
  return view(copy, t.shape);
}
