/**
 * Keras' MobileNetV2 (keras/applications/mobilenet_v2.py) without its classifier top, built with
 * tfjs-layers so that every layer carries exactly the Keras name and weight shapes. That is what
 * lets the public ImageNet weights (tfjs layers models converted from Keras, see
 * lib/ml/backbones) load into it by name, and what lets a speed benchmark run the real architecture
 * with random weights.
 *
 * Architecture (alpha scales every width except the last 1x1 conv, which stays 1280 for alpha <= 1):
 *   Conv1 3x3/2 (same) -> bn_Conv1 -> Conv1_relu (ReLU6)
 *   17 inverted residual blocks (expanded_conv_, block_1_ .. block_16_):
 *     [expand 1x1 -> BN -> ReLU6] (not in block 0) -> [pad, when stride 2] -> depthwise 3x3 -> BN ->
 *     ReLU6 -> project 1x1 -> BN -> [add the input when stride 1 and the widths match]
 *   Conv_1 1x1 -> Conv_1_bn -> out_relu (ReLU6): the layer a feature extractor cuts at.
 * Convs have no bias; BatchNorm uses Keras' epsilon 1e-3 and momentum 0.999.
 */
import * as tf from "../tf";
import { seedSequence, type SeedSequence } from "./seeds";

export type MobileNetV2Config = {
  /** Width multiplier: the public weights exist for 0.35, 0.5, 0.75 and 1.0. */
  alpha: number;
  /** Square input side; the public weights were trained at 224. */
  inputSize?: number;
  /** Seeds the weight initializers (random when absent). */
  seed?: number;
};

/** The layer whose output, globally average-pooled, is MobileNetV2's feature vector. */
export const MOBILENET_V2_CUT_LAYER = "out_relu";

/** The inverted residual blocks in order: output filters (before alpha), stride, expansion. */
export const MOBILENET_V2_BLOCKS: ReadonlyArray<{ filters: number; stride: 1 | 2; expansion: number }> = [
  { filters: 16, stride: 1, expansion: 1 },
  { filters: 24, stride: 2, expansion: 6 },
  { filters: 24, stride: 1, expansion: 6 },
  { filters: 32, stride: 2, expansion: 6 },
  { filters: 32, stride: 1, expansion: 6 },
  { filters: 32, stride: 1, expansion: 6 },
  { filters: 64, stride: 2, expansion: 6 },
  { filters: 64, stride: 1, expansion: 6 },
  { filters: 64, stride: 1, expansion: 6 },
  { filters: 64, stride: 1, expansion: 6 },
  { filters: 96, stride: 1, expansion: 6 },
  { filters: 96, stride: 1, expansion: 6 },
  { filters: 96, stride: 1, expansion: 6 },
  { filters: 160, stride: 2, expansion: 6 },
  { filters: 160, stride: 1, expansion: 6 },
  { filters: 160, stride: 1, expansion: 6 },
  { filters: 320, stride: 1, expansion: 6 },
];

/** Keras' rounding of a width to a multiple of `divisor`, never more than 10% below `v`. */
export function makeDivisible(v: number, divisor = 8): number {
  let rounded = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (rounded < 0.9 * v) rounded += divisor;
  return rounded;
}

/** Width of the last 1x1 conv: 1280, scaled only when alpha > 1 (as the paper says). */
export function mobileNetV2FeatureDim(alpha: number): number {
  return alpha > 1 ? makeDivisible(1280 * alpha) : 1280;
}

type Sym = tf.SymbolicTensor;

// Keras' BatchNormalization settings in this network.
const BN = { epsilon: 1e-3, momentum: 0.999 };

function batchNorm(x: Sym, name: string): Sym {
  return tf.layers.batchNormalization({ axis: -1, ...BN, name }).apply(x) as Sym;
}

function relu6(x: Sym, name: string): Sym {
  return tf.layers.reLU({ maxValue: 6, name }).apply(x) as Sym;
}

function conv1x1(x: Sym, filters: number, name: string, seed: SeedSequence): Sym {
  const kernelInitializer = tf.initializers.glorotUniform({ seed: seed() });
  return tf.layers.conv2d({ filters, kernelSize: 1, padding: "same", useBias: false, kernelInitializer, name }).apply(x) as Sym;
}

/**
 * Keras' correct_pad for a 3x3 stride-2 conv: one row/column after, and one before as well when
 * the side is odd, so the output is ceil(side / 2) as with "same" padding.
 */
function correctPad(side: number): [number, number] {
  return [side % 2 === 0 ? 0 : 1, 1];
}

function invertedResidualBlock(
  inputs: Sym,
  block: { filters: number; stride: 1 | 2; expansion: number },
  alpha: number,
  blockId: number,
  seed: SeedSequence,
): Sym {
  const inChannels = inputs.shape[3] as number;
  const pointwiseFilters = makeDivisible(Math.trunc(block.filters * alpha));
  const prefix = blockId === 0 ? "expanded_conv_" : `block_${blockId}_`;
  let x = inputs;
  if (blockId !== 0) {
    x = conv1x1(x, block.expansion * inChannels, `${prefix}expand`, seed);
    x = batchNorm(x, `${prefix}expand_BN`);
    x = relu6(x, `${prefix}expand_relu`);
  }
  if (block.stride === 2) {
    const padding: [[number, number], [number, number]] = [correctPad(x.shape[1] as number), correctPad(x.shape[2] as number)];
    x = tf.layers.zeroPadding2d({ padding, name: `${prefix}pad` }).apply(x) as Sym;
  }
  const depthwiseInitializer = tf.initializers.glorotUniform({ seed: seed() });
  x = tf.layers
    .depthwiseConv2d({
      kernelSize: 3,
      strides: block.stride,
      useBias: false,
      padding: block.stride === 1 ? "same" : "valid",
      depthwiseInitializer,
      name: `${prefix}depthwise`,
    })
    .apply(x) as Sym;
  x = batchNorm(x, `${prefix}depthwise_BN`);
  x = relu6(x, `${prefix}depthwise_relu`);
  x = conv1x1(x, pointwiseFilters, `${prefix}project`, seed);
  x = batchNorm(x, `${prefix}project_BN`);
  if (inChannels === pointwiseFilters && block.stride === 1) {
    return tf.layers.add({ name: `${prefix}add` }).apply([inputs, x]) as Sym;
  }
  return x;
}

/**
 * MobileNetV2 without its top: images [N, inputSize, inputSize, 3] (scaled to [-1, 1]) to the
 * `out_relu` feature map [N, inputSize/32, inputSize/32, 1280].
 */
export function buildMobileNetV2(config: MobileNetV2Config): tf.LayersModel {
  const { alpha } = config;
  const inputSize = config.inputSize ?? 224;
  if (!(alpha > 0)) throw new Error(`MobileNetV2: alpha must be positive, got ${alpha}`);
  if (!Number.isInteger(inputSize) || inputSize < 32) throw new Error(`MobileNetV2: inputSize must be an integer >= 32, got ${inputSize}`);
  const seed = seedSequence(config.seed);
  const input = tf.input({ shape: [inputSize, inputSize, 3], name: "input_1" });
  const firstFilters = makeDivisible(32 * alpha);
  let x = tf.layers
    .conv2d({
      filters: firstFilters,
      kernelSize: 3,
      strides: 2,
      padding: "same",
      useBias: false,
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed() }),
      name: "Conv1",
    })
    .apply(input) as Sym;
  x = batchNorm(x, "bn_Conv1");
  x = relu6(x, "Conv1_relu");
  MOBILENET_V2_BLOCKS.forEach((block, blockId) => {
    x = invertedResidualBlock(x, block, alpha, blockId, seed);
  });
  x = conv1x1(x, mobileNetV2FeatureDim(alpha), "Conv_1", seed);
  x = batchNorm(x, "Conv_1_bn");
  x = relu6(x, MOBILENET_V2_CUT_LAYER);
  return tf.model({ inputs: input, outputs: x, name: `mobilenetv2_${alpha.toFixed(2)}_${inputSize}` });
}
