/**
 * A compact residual CNN (ResNet v1 basic blocks), built as a pure function of its config:
 *   stem conv3x3-BN-ReLU (width)
 *   3 stages of `blocks` residual blocks, widths width, 2*width, 4*width; stages 2 and 3 halve the
 *   resolution in their first block (stride 2, with a 1x1 conv-BN shortcut where the shape changes)
 *   global average pooling -> dense logits (no softmax: losses take logits).
 * Convs feeding a BatchNorm have no bias (BN's offset makes it redundant).
 * bench/throughput_torch.py holds the same network in PyTorch.
 */
import * as tf from "../tf";
import { seedSequence, type SeedSequence } from "./seeds";

export type ResNetConfig = {
  /** Square input images of inputSize x inputSize pixels. */
  inputSize: number;
  /** 3 for RGB, 1 for grayscale. */
  channels: number;
  numClasses: number;
  /** Filters of the first stage; doubled at each of the next two stages. */
  width: number;
  /** Residual blocks per stage. */
  blocks: number;
  /** Seeds the weight initializers (random when absent). */
  seed?: number;
};

type Sym = tf.SymbolicTensor;

const STAGES = 3;

function conv(x: Sym, filters: number, kernelSize: number, strides: number, name: string, seed: SeedSequence): Sym {
  const kernelInitializer = tf.initializers.heNormal({ seed: seed() });
  return tf.layers.conv2d({ filters, kernelSize, strides, padding: "same", useBias: false, kernelInitializer, name }).apply(x) as Sym;
}

function batchNorm(x: Sym, name: string): Sym {
  return tf.layers.batchNormalization({ name }).apply(x) as Sym;
}

function relu(x: Sym): Sym {
  return tf.layers.reLU().apply(x) as Sym;
}

function residualBlock(x: Sym, filters: number, strides: number, name: string, seed: SeedSequence): Sym {
  const inFilters = x.shape[3];
  let y = relu(batchNorm(conv(x, filters, 3, strides, `${name}_conv1`, seed), `${name}_bn1`));
  y = batchNorm(conv(y, filters, 3, 1, `${name}_conv2`, seed), `${name}_bn2`);
  const shortcut =
    strides === 1 && inFilters === filters
      ? x
      : batchNorm(conv(x, filters, 1, strides, `${name}_proj`, seed), `${name}_proj_bn`);
  return relu(tf.layers.add({ name: `${name}_add` }).apply([shortcut, y]) as Sym);
}

export function buildResNet(config: ResNetConfig): tf.LayersModel {
  const { inputSize, channels, numClasses, width, blocks } = config;
  const seed = seedSequence(config.seed);
  const input = tf.input({ shape: [inputSize, inputSize, channels], name: "image" });
  let x = relu(batchNorm(conv(input, width, 3, 1, "stem_conv", seed), "stem_bn"));
  for (let stage = 0; stage < STAGES; stage++) {
    for (let block = 0; block < blocks; block++) {
      const strides = stage > 0 && block === 0 ? 2 : 1;
      x = residualBlock(x, width * 2 ** stage, strides, `s${stage + 1}b${block + 1}`, seed);
    }
  }
  x = tf.layers.globalAveragePooling2d({ name: "pool" }).apply(x) as Sym;
  const kernelInitializer = tf.initializers.glorotUniform({ seed: seed() });
  const logits = tf.layers.dense({ units: numClasses, kernelInitializer, name: "logits" }).apply(x) as Sym;
  return tf.model({ inputs: input, outputs: logits, name: "resnet" });
}

/** The model bench/throughput.ts measures (and its PyTorch twin reproduces). */
export const SMALL_RESNET: ResNetConfig = { inputSize: 32, channels: 3, numClasses: 10, width: 32, blocks: 1 };
