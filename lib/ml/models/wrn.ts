/**
 * Wide ResNet as used by FixMatch (google-research/fixmatch libml/models.py, "WRN-28-2" for
 * CIFAR-10): pre-activation residual blocks, leaky ReLU 0.1, BatchNorm with momentum 0.001 in the
 * paper's TF convention (new = 0.001 * batch + 0.999 * old), i.e. 0.999 in the Keras convention
 * tfjs uses, epsilon 0.001. depth = 6n + 4: 3 groups of n blocks with widths 16k, 32k, 64k.
 * Like the reference, convs keep their biases and use He-normal init over fan-out.
 */
import * as tf from "../tf";
import { seedSequence, type SeedSequence } from "./seeds";

export type WideResNetConfig = {
  inputSize: number;
  channels: number;
  numClasses: number;
  /** 6n + 4; 28 gives 4 blocks per group. */
  depth: number;
  /** k: group widths are 16k, 32k, 64k. */
  widenFactor: number;
  /** Seeds the weight initializers (random when absent). */
  seed?: number;
};

type Sym = tf.SymbolicTensor;

const LEAK = 0.1;
const BN_MOMENTUM = 0.999;
const BN_EPSILON = 0.001;

function conv(x: Sym, filters: number, kernelSize: number, strides: number, seed: SeedSequence): Sym {
  return tf.layers
    .conv2d({
      filters,
      kernelSize,
      strides,
      padding: "same",
      kernelInitializer: tf.initializers.varianceScaling({ scale: 2, mode: "fanOut", distribution: "normal", seed: seed() }),
    })
    .apply(x) as Sym;
}

function bnLeakyRelu(x: Sym): Sym {
  const normalized = tf.layers.batchNormalization({ momentum: BN_MOMENTUM, epsilon: BN_EPSILON }).apply(x) as Sym;
  return tf.layers.leakyReLU({ alpha: LEAK }).apply(normalized) as Sym;
}

/**
 * Pre-activation block. The very first block feeds the activated input to its shortcut too
 * (the reference's activate_before_residual); a 1x1 conv adapts the shortcut when widths differ.
 */
function block(x: Sym, filters: number, strides: number, activateBeforeResidual: boolean, seed: SeedSequence): Sym {
  const activated = bnLeakyRelu(x);
  const shortcutInput = activateBeforeResidual ? activated : x;
  const y = conv(bnLeakyRelu(conv(activated, filters, 3, strides, seed)), filters, 3, 1, seed);
  const shortcut = shortcutInput.shape[3] === filters ? shortcutInput : conv(shortcutInput, filters, 1, strides, seed);
  return tf.layers.add().apply([shortcut, y]) as Sym;
}

export function buildWideResNet(config: WideResNetConfig): tf.LayersModel {
  const { inputSize, channels, numClasses, depth, widenFactor } = config;
  if ((depth - 4) % 6 !== 0) throw new Error(`WRN depth must be 6n + 4, got ${depth}`);
  const blocksPerGroup = (depth - 4) / 6;
  const seed = seedSequence(config.seed);
  const input = tf.input({ shape: [inputSize, inputSize, channels] });
  let x = conv(input, 16, 3, 1, seed);
  [16, 32, 64].forEach((base, group) => {
    for (let b = 0; b < blocksPerGroup; b++) {
      const strides = group > 0 && b === 0 ? 2 : 1;
      x = block(x, base * widenFactor, strides, group === 0 && b === 0, seed);
    }
  });
  x = bnLeakyRelu(x);
  x = tf.layers.globalAveragePooling2d({}).apply(x) as Sym;
  const logits = tf.layers.dense({ units: numClasses, kernelInitializer: tf.initializers.glorotNormal({ seed: seed() }) }).apply(x) as Sym;
  return tf.model({ inputs: input, outputs: logits, name: `wrn-${depth}-${widenFactor}` });
}

/** FixMatch's CIFAR-10 model. */
export const WRN_28_2: WideResNetConfig = { inputSize: 32, channels: 3, numClasses: 10, depth: 28, widenFactor: 2 };
