/**
 * Identity, and Cast to the dtype a tensor already has, share the input's buffer on wasm.
 *
 * The engine clones every tensor a gradient saves for the backward pass (engine.clone runs the
 * Identity kernel), and several tfjs-core gradients cast float32 to float32. The shipped wasm
 * kernels copy the whole buffer each time: in a training step of the bench ResNet that was 271
 * Identity calls, one per saved activation, and 34 Casts. Tensors are immutable (a Variable's
 * assign swaps its data id, no kernel writes into an input), so a reference-counted share, which
 * is what the cpu backend's Identity does and the wasm backend's own Reshape does, is equivalent.
 */
import * as tf from "../tf";
import { type CompositeKernel, type TensorInfo } from "./wasm_kernel_utils";

function share(backend: tf.KernelBackend, x: TensorInfo): TensorInfo {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

export function makeSharingIdentity(shipped: tf.KernelFunc): CompositeKernel {
  return (args) => {
    const x = args.inputs.x as TensorInfo;
    return x.dtype === "string" ? (shipped(args) as TensorInfo) : share(args.backend, x);
  };
}

export function makeSharingCast(shipped: tf.KernelFunc): CompositeKernel {
  return (args) => {
    const x = args.inputs.x as TensorInfo;
    const { dtype } = args.attrs as unknown as tf.CastAttrs;
    return dtype === x.dtype && dtype !== "string" ? share(args.backend, x) : (shipped(args) as TensorInfo);
  };
}
