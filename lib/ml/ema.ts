/**
 * An exponential moving average of every model weight, trainable ones AND BatchNorm's moving
 * mean and variance, kept in a shadow copy of the model: shadow = decay * shadow + (1 - decay) * w.
 * The shadow model is the one FixMatch evaluates and predicts with; it is smoother than the
 * weights at any single step. Both models must come from the same builder and config, so their
 * weight lists line up one to one.
 */
import * as tf from "./tf";

export class WeightEma {
  constructor(
    private readonly source: tf.LayersModel,
    readonly shadow: tf.LayersModel,
    private readonly decay: number,
  ) {
    const a = source.weights.map((w) => w.shape.join("x"));
    const b = shadow.weights.map((w) => w.shape.join("x"));
    if (a.join() !== b.join()) throw new Error("the EMA model's weights do not match the model's");
    shadow.setWeights(source.getWeights());
  }

  update(): void {
    tf.tidy(() => {
      this.source.weights.forEach((w, i) => {
        const s = this.shadow.weights[i].read() as tf.Variable;
        s.assign(tf.add(tf.mul(this.decay, s), tf.mul(1 - this.decay, w.read())));
      });
    });
  }
}

/** Every weight of a model as plain arrays, in `model.weights` order (for checkpoints). */
export function readWeights(model: tf.LayersModel): Float32Array[] {
  return model.weights.map((w) => w.read().dataSync() as Float32Array);
}

export function writeWeights(model: tf.LayersModel, values: readonly Float32Array[]): void {
  if (values.length !== model.weights.length) throw new Error(`got ${values.length} weight arrays for ${model.weights.length} weights`);
  tf.tidy(() => model.setWeights(model.weights.map((w, i) => tf.tensor(values[i], w.shape as number[]))));
}
