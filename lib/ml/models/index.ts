/**
 * The model a training config names, built from scratch. Pure functions of the config: the same
 * config and seed always give the same starting weights.
 */
import type { TrainConfig } from "../config";
import type * as tf from "../tf";
import { buildResNet } from "./resnet";
import { buildWideResNet } from "./wrn";

/** Builds the config's model; with a seed, the same config always starts from the same weights. */
export function buildModel(
  config: Pick<TrainConfig, "model" | "inputSize" | "channels" | "numClasses" | "bnMomentum"> & { seed?: number },
): tf.LayersModel {
  const { model, inputSize, channels, numClasses, bnMomentum, seed } = config;
  const built =
    model.kind === "resnet"
      ? buildResNet({ inputSize, channels, numClasses, width: model.width, blocks: model.blocks, seed })
      : buildWideResNet({ inputSize, channels, numClasses, depth: model.depth, widenFactor: model.widenFactor, seed });
  if (bnMomentum !== null) {
    // The builders fix BatchNorm's momentum; tfjs reads it at every training call, so a short run
    // can shorten the moving statistics' memory after the model is built.
    for (const layer of built.layers) {
      if (layer.getClassName() === "BatchNormalization") (layer as unknown as { momentum: number }).momentum = bnMomentum;
    }
  }
  return built;
}

