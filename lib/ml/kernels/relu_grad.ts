/**
 * The ReLU and ReLU6 gradients in one pass on wasm.
 *
 * tfjs-core's gradients build the mask from ops: dy * cast(step(x)) for Relu, and
 * dy * cast(lessEqual(x, 6) * step(x)) for Relu6, three to five kernels that each read and write a
 * full activation. Here one pass keeps dy where lower < x <= upper and writes 0 elsewhere, with
 * integer operations on the float bits: a data-dependent branch (x > 0 ? dy : 0) on activations
 * that are positive half the time mispredicts so often that it was 10x slower (17 ms against
 * 1.8 ms for 2M elements), slower than the wasm kernels it replaces.
 *
 * Bits: for a float32 with bits v (as int32), x > 0 exactly when v > 0 (+0 is 0, -0 and every
 * negative float have the sign bit set), and for positive floats the order of v is the order of x.
 * So the mask is all ones when 0 < v <= bits(upper): (-v & ~v) >> 31 is -1 exactly for v > 0 (the
 * ~v keeps -0's 0x80000000, which is its own negation, out), and ((v & 0x7fffffff) - bits(upper)
 * - 1) >> 31 is -1 for v <= bits(upper) whenever v > 0. dy's sign bit is always kept, so a dropped element is
 * -0 where dy < 0, as dy * 0 is. A NaN x or an infinite dy where the mask drops it (training has
 * diverged by then) gives 0 here where tfjs gives NaN; every other input gives tfjs' result bit
 * for bit.
 * Other backends keep tfjs-core's formula.
 */
import * as tf from "../tf";
import { type KernelArgs, type TensorInfo } from "./wasm_kernel_utils";

export const RELU_GRAD = "FixLabelReluGrad";

export type ReluGradAttrs = { upper: number };

type HeapBackend = {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
};

function bitsOf(t: TensorInfo, backend: HeapBackend): Int32Array {
  const values = backend.typedArrayFromHeap(t);
  return new Int32Array(values.buffer, values.byteOffset, values.length);
}

const SIGN_BIT = 1 << 31;

/** dx = dy where 0 < x <= upper, else 0 with dy's sign, on the int32 views of float32 x, dy and dx. */
export function reluGradBits(x: Int32Array, dy: Int32Array, upper: number, dx: Int32Array): void {
  const upperBits = new Int32Array(Float32Array.of(upper).buffer)[0];
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    // Every subtraction stays inside int32 (`| 0` for -v of 0x80000000): a result past 2^31
    // would make V8 redo the loop in doubles.
    const positive = (((0 - v) | 0) & ~v) >> 31;
    const notAbove = ((v & 0x7fffffff) - upperBits - 1) >> 31;
    dx[i] = dy[i] & ((positive & notAbove) | SIGN_BIT);
  }
}

/** inputs dy, x (float32, same shape); attrs upper (Infinity for Relu, 6 for Relu6) -> dx. */
export function reluGradWasm({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo };
  const { upper } = attrs as unknown as ReluGradAttrs;
  const heap = backend as unknown as HeapBackend;
  const dx = heap.makeOutput(x.shape, "float32"); // before the views: allocating may move the heap
  reluGradBits(bitsOf(x, heap), bitsOf(dy, heap), upper, bitsOf(dx, heap));
  return dx;
}

function maskedGradient(kernelName: string, upper: number, tfjsFormula: (dy: tf.Tensor, x: tf.Tensor) => tf.Tensor): tf.GradConfig {
  return {
    kernelName,
    inputsToSave: ["x"],
    gradFunc: (dy, saved) => {
      const [x] = saved;
      const dyTensor = dy as tf.Tensor;
      const fused = x.dtype === "float32" && dyTensor.dtype === "float32" && tf.getKernel(RELU_GRAD, tf.getBackend()) != null;
      return {
        x: () => (fused ? (tf.engine().runKernel(RELU_GRAD, { dy: dyTensor, x }, { upper }) as tf.Tensor) : tfjsFormula(dyTensor, x)),
      };
    },
  };
}

export const reluGrad = maskedGradient(tf.Relu, Infinity, (dy, x) => tf.mul(dy, tf.cast(tf.step(x), "float32")));
export const relu6Grad = maskedGradient(tf.Relu6, 6, (dy, x) => tf.mul(dy, tf.cast(tf.mul(tf.lessEqual(x, 6), tf.step(x)), "float32")));
