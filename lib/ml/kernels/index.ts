/**
 * The project's training kernels for @tensorflow/tfjs-backend-wasm (see each file for the math).
 * registerWasmTrainingKernels() is idempotent: calling it again finds its own kernels installed
 * and does nothing, and it may run before or after the wasm backend is initialised.
 */
// Registers the wasm backend and its shipped kernels, which wrapKernel builds on.
import "@tensorflow/tfjs-backend-wasm";
import * as tf from "../tf";
import { fusedBatchNormGradWithoutTile } from "./batch_norm_grad";
import { installFusedBatchNormLayer } from "./batch_norm_layer";
import {
  BATCH_NORM_TRAINING,
  BATCH_NORM_TRAINING_GRAD,
  batchNormTrainingGrad,
  batchNormTrainingGradWasm,
  batchNormTrainingWasm,
} from "./batch_norm_training";
import { conv2DBackpropFilterWasm } from "./conv2d_backprop_filter";
import { makeConv2DBackpropInputWasm } from "./conv2d_backprop_input";
import { depthwiseConv2dBackpropFilterWasm, depthwiseConv2dBackpropInputWasm } from "./depthwise_grads";
import { makeLeadingAxisReduction } from "./leading_axis_reduce";
import { makeSharingCast, makeSharingIdentity } from "./sharing_identity";
import { WASM, type CompositeKernel } from "./wasm_kernel_utils";

type MultiOutputKernel = (args: Parameters<CompositeKernel>[0]) => tf.TensorInfo[];

/** Kernel functions installed by this module, to recognise them on a second call. */
const ours = new WeakSet<object>();

/** Adds a kernel the wasm backend lacks. */
function addKernel(kernelName: string, kernel: CompositeKernel | MultiOutputKernel): void {
  if (tf.getKernel(kernelName, WASM)) return;
  tf.registerKernel({ kernelName, backendName: WASM, kernelFunc: kernel as unknown as tf.KernelFunc });
}

/**
 * Replaces a shipped wasm kernel by one wrapping it. The shipped setupFunc is kept: the backend
 * runs it at start-up to bind the C++ function the wrapper falls back to.
 */
function wrapKernel(kernelName: string, wrap: (shipped: tf.KernelFunc) => CompositeKernel): void {
  const shipped = tf.getKernel(kernelName, WASM);
  if (!shipped) throw new Error(`wasm kernel ${kernelName} is missing: is @tensorflow/tfjs-backend-wasm loaded?`);
  if (ours.has(shipped.kernelFunc)) return;
  const kernelFunc = wrap(shipped.kernelFunc) as unknown as tf.KernelFunc;
  ours.add(kernelFunc);
  tf.unregisterKernel(kernelName, WASM);
  tf.registerKernel({ ...shipped, kernelFunc });
}

export function registerWasmTrainingKernels(): void {
  addKernel("Conv2DBackpropFilter", conv2DBackpropFilterWasm);
  addKernel("DepthwiseConv2dNativeBackpropInput", depthwiseConv2dBackpropInputWasm);
  addKernel("DepthwiseConv2dNativeBackpropFilter", depthwiseConv2dBackpropFilterWasm);
  wrapKernel("Conv2DBackpropInput", makeConv2DBackpropInputWasm);
  wrapKernel("Sum", makeLeadingAxisReduction);
  wrapKernel("Mean", makeLeadingAxisReduction);
  wrapKernel("Identity", makeSharingIdentity);
  wrapKernel("Cast", makeSharingCast);
  if (tf.getGradient(tf.FusedBatchNorm) !== fusedBatchNormGradWithoutTile) tf.registerGradient(fusedBatchNormGradWithoutTile);
  addKernel(BATCH_NORM_TRAINING, batchNormTrainingWasm);
  addKernel(BATCH_NORM_TRAINING_GRAD, batchNormTrainingGradWasm);
  if (tf.getGradient(BATCH_NORM_TRAINING) !== batchNormTrainingGrad) tf.registerGradient(batchNormTrainingGrad);
  installFusedBatchNormLayer();
}
