/**
 * SGD with (Nesterov) momentum and L2 weight decay on conv and dense kernels only, written over
 * tf variables so its one piece of state, the momentum buffers, can go into a checkpoint
 * (tfjs's built-in optimizers keep theirs private and decay every weight alike).
 *
 * The update is PyTorch's torch.optim.SGD, which FixMatch's reimplementations use:
 *   g = grad + weightDecay * w        (kernels only: biases and BatchNorm gamma/beta are not decayed)
 *   v = momentum * v + g
 *   w = w - lr * (nesterov ? g + momentum * v : v)
 */
import * as tf from "./tf";

export type SgdOptions = {
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
};

/** Layer weights named ".../kernel" (tfjs may append "_<n>" when a name repeats) are conv/dense kernels. */
export function isKernel(variableName: string): boolean {
  return /\/kernel(_\d+)?$/.test(variableName);
}

export class Sgd {
  private readonly velocity: tf.Variable[];

  constructor(
    readonly variables: readonly tf.Variable[],
    private readonly options: SgdOptions,
  ) {
    this.velocity = variables.map((v) => tf.variable(tf.zerosLike(v), false));
  }

  /** One update from gradients keyed by variable name (what tf.variableGrads returns). */
  step(grads: tf.NamedTensorMap, lr: number): void {
    const { momentum, nesterov, weightDecay } = this.options;
    tf.tidy(() => {
      this.variables.forEach((w, i) => {
        const grad = grads[w.name];
        if (!grad) throw new Error(`no gradient for ${w.name}`);
        const g = weightDecay > 0 && isKernel(w.name) ? tf.add(grad, tf.mul(weightDecay, w)) : grad;
        const v = tf.add(tf.mul(momentum, this.velocity[i]), g);
        this.velocity[i].assign(v);
        w.assign(tf.sub(w, tf.mul(lr, nesterov ? tf.add(g, tf.mul(momentum, v)) : v)));
      });
    });
  }

  /** The momentum buffers, in the order of `variables`. */
  state(): Float32Array[] {
    return this.velocity.map((v) => v.dataSync() as Float32Array);
  }

  loadState(buffers: readonly Float32Array[]): void {
    if (buffers.length !== this.velocity.length) throw new Error(`optimizer state has ${buffers.length} buffers, expected ${this.velocity.length}`);
    this.velocity.forEach((v, i) => v.assign(tf.tensor(buffers[i], v.shape)));
  }

  dispose(): void {
    tf.dispose(this.velocity);
  }
}
