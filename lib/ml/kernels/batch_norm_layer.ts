/**
 * Makes tf.layers' BatchNormalization use the fused training kernel (batch_norm_training.ts)
 * where the backend has it.
 *
 * The layer class stays tfjs' own: its config, weights, serialization and inference path are
 * untouched, so saved and exported models are the same files and load in plain @tensorflow/tfjs.
 * Only the training-mode branch of its call() is swapped, and only when the fused kernel can do
 * exactly what the original does: channels last, scale and center on, float32 input of rank >= 2.
 * Anything else (inference, another axis, another backend) runs tfjs' original call().
 * The moving mean and variance are updated with the same ops, in the same order, as tfjs-layers'
 * BatchNormalization.call: moving -= (moving - batch) * (1 - momentum).
 */
import * as tf from "../tf";
import { batchNormTraining, hasBatchNormTrainingKernel } from "./batch_norm_training";

type LayerCall = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

/** The fields of tfjs-layers' BatchNormalization this reads (all set by its constructor and build()). */
type BatchNormFields = {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma?: tf.LayerVariable;
  beta?: tf.LayerVariable;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
};

let enabled = true;
let originalCall: LayerCall | null = null;

/** Turns the fused path on or off (bench/bn-grads.ts and the tests compare both in one process). */
export function setFusedBatchNorm(on: boolean): void {
  enabled = on;
}

export function fusedBatchNormEnabled(): boolean {
  return enabled;
}

function batchNormPrototype(): { call: LayerCall } {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap.BatchNormalization as unknown as [{ prototype: { call: LayerCall } }] | undefined;
  if (!entry) throw new Error("tfjs-layers' BatchNormalization is not registered: is @tensorflow/tfjs-layers loaded?");
  return entry[0].prototype;
}

function fusable(layer: BatchNormFields, x: tf.Tensor): boolean {
  const axis = layer.axis >= 0 ? layer.axis : layer.axis + x.rank;
  return x.rank >= 2 && axis === x.rank - 1 && x.dtype === "float32" && layer.scale && layer.center && layer.gamma != null && layer.beta != null && hasBatchNormTrainingKernel();
}

/** tfjs-layers' doMovingAverage, op for op. */
function updateMovingAverage(variable: tf.LayerVariable, value: tf.Tensor, momentum: number): void {
  tf.tidy(() => {
    const decay = 1 - momentum;
    const origValue = variable.read();
    const updateDelta = tf.mul(tf.sub(origValue, value), decay);
    variable.write(tf.sub(origValue, updateDelta));
  });
}

/** Installs the fused training path on BatchNormalization.prototype.call; idempotent. */
export function installFusedBatchNormLayer(): void {
  if (originalCall) return;
  const proto = batchNormPrototype();
  const original = proto.call;
  originalCall = original;
  proto.call = function fusedTrainingCall(this: BatchNormFields, inputs, kwargs) {
    const training = kwargs?.training === true;
    const x = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : null) : inputs;
    if (!enabled || !training || x == null || !fusable(this, x)) return original.call(this, inputs, kwargs);
    return tf.tidy(() => {
      const [y, mean, variance] = batchNormTraining(x, this.gamma!.read() as tf.Tensor1D, this.beta!.read() as tf.Tensor1D, this.epsilon);
      updateMovingAverage(this.movingMean, mean, this.momentum);
      updateMovingAverage(this.movingVariance, variance, this.momentum);
      return y;
    });
  };
}
