/**
 * Fine-tune mode (TrainConfig.backboneMode === "finetune", for a GPU server): the model FixMatch
 * trains is the backbone cut + pooling + a dense logits layer, with the top of the backbone
 * trainable and its bottom frozen. It takes the training pipeline's images in [0, 1] (data.ts
 * framesToTensor) and rescales them inside to the backbone's input (x * 255 * scale + offset), so
 * the loop, prediction and the export treat it like any model built from scratch.
 */
import { getEnv } from "@/lib/env";
import type { TrainConfig } from "../config";
import { buildModel } from "../models";
import * as tf from "../tf";
import { loadBackbone, type DownloadProgress } from "./index";
import { backbonePreprocessing } from "./sources";
import type { LoadedBackbone } from "./types";

/**
 * The share of the backbone's weighted layers (from the top) that fine-tuning trains. TensorFlow's
 * transfer-learning guide fine-tunes MobileNetV2 from layer 100 of 154 (~35%); the bottom layers'
 * generic edges and textures stay as ImageNet made them, which also keeps few labels from
 * overwriting them.
 */
export const FINETUNE_TRAINABLE_SHARE = 1 / 3;

type LayerCall = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];
const ownCall = Symbol("fixlabel.ownCall");

/**
 * A frozen BatchNorm runs in inference mode even while the model trains, as Keras does for a layer
 * with trainable = false: otherwise its moving statistics would drift to the few labeled batches
 * while its scale and offset stay. tfjs has no switch for it, so the layer's call is wrapped.
 */
function setInferenceOnly(layer: tf.layers.Layer, inferenceOnly: boolean): void {
  const target = layer as unknown as { call: LayerCall; [ownCall]?: LayerCall };
  target[ownCall] ??= target.call.bind(layer);
  const own = target[ownCall]!;
  target.call = inferenceOnly ? (inputs, kwargs) => own(inputs, { ...kwargs, training: false }) : own;
}

/** Makes the top FINETUNE_TRAINABLE_SHARE of the extractor's weighted layers trainable, the rest frozen. */
export function freezeBottom(extractor: tf.LayersModel, share = FINETUNE_TRAINABLE_SHARE): { trainable: string[]; frozen: string[] } {
  const weighted = extractor.layers.filter((l) => l.weights.length > 0);
  const firstTrainable = Math.floor(weighted.length * (1 - share));
  weighted.forEach((layer, i) => {
    layer.trainable = i >= firstTrainable;
    if (layer.getClassName() === "BatchNormalization") setInferenceOnly(layer, i < firstTrainable);
  });
  return { trainable: weighted.slice(firstTrainable).map((l) => l.name), frozen: weighted.slice(0, firstTrainable).map((l) => l.name) };
}

/** [0, 1] images -> rescaling -> backbone (top trainable) -> dense logits. */
export function buildFinetuneClassifier(backbone: LoadedBackbone, numClasses: number, seed?: number, share = FINETUNE_TRAINABLE_SHARE): tf.LayersModel {
  const { inputSize, channels, scale, offset } = backbone.preprocessing;
  const input = tf.input({ shape: [inputSize, inputSize, channels], name: "image" });
  const scaled = tf.layers.rescaling({ scale: 255 * scale, offset, name: "backbone_scaling" }).apply(input) as tf.SymbolicTensor;
  freezeBottom(backbone.extractor, share);
  const features = backbone.extractor.apply(scaled) as tf.SymbolicTensor;
  const kernelInitializer = tf.initializers.glorotUniform({ seed: seed === undefined ? undefined : seed * 10_007 });
  const logits = tf.layers.dense({ units: numClasses, kernelInitializer, name: "logits" }).apply(features) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: "backbone_classifier" });
}

/** A config with a backbone takes the backbone's input size and channels (the pixel cache follows). */
export function withBackboneInput<C extends Pick<TrainConfig, "backbone" | "inputSize" | "channels">>(config: C): C {
  if (!config.backbone) return config;
  const { inputSize, channels } = backbonePreprocessing(config.backbone);
  return { ...config, inputSize, channels };
}

export type BackboneLoadOptions = { dataDir?: string; onProgress?: (p: DownloadProgress) => void };

/**
 * The model a config trains: from scratch (models/index.ts), or a fine-tuned backbone. A frozen
 * backbone run trains a head on cached features instead (lib/ml/features), never this loop.
 */
export async function buildTrainModel(config: TrainConfig & { seed?: number }, opts: BackboneLoadOptions = {}): Promise<tf.LayersModel> {
  if (!config.backbone) return buildModel(config);
  if ((config.backboneMode ?? "frozen") !== "finetune") {
    throw new Error("a frozen-backbone run trains a head on cached features (lib/ml/features), not in this loop");
  }
  const backbone = await loadBackbone(config.backbone, { dataDir: opts.dataDir ?? getEnv().dataDir, onProgress: opts.onProgress });
  const model = buildFinetuneClassifier(backbone, config.numClasses, config.seed);
  if (config.bnMomentum !== null) {
    for (const layer of backbone.extractor.layers) {
      if (layer.getClassName() === "BatchNormalization") (layer as unknown as { momentum: number }).momentum = config.bnMomentum;
    }
  }
  return model;
}
