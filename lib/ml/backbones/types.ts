/**
 * Pretrained backbones: what a run names, and what loading one gives. Types only, so the train
 * config, the runs API, the worker and the UI can all name a backbone without loading tfjs.
 *
 * A backbone is a TensorFlow.js layers model cut at one layer and followed by global average
 * pooling: images in (preprocessed as `preprocessing` says), one feature vector per image out.
 */

/** Sizes of Keras' MobileNetV2 published as tfjs layers models (ImageNet weights, no top). */
export const MOBILENET_V2_ALPHAS = ["0.35", "0.50", "0.75", "1.00"] as const;
export type MobileNetV2Alpha = (typeof MOBILENET_V2_ALPHAS)[number];

/** How raw RGB (or gray) pixels in 0..255 become the backbone's input: x * scale + offset. */
export type Preprocessing = {
  inputSize: number;
  channels: 1 | 3;
  scale: number;
  offset: number;
};

export type BackboneRef =
  | { kind: "mobilenet-v2"; alpha: MobileNetV2Alpha }
  | {
      kind: "custom";
      /** A folder on the server, an uploaded zip's stored folder, or an http(s) URL of model.json. */
      source: string;
      /** The layer whose output is pooled into features. */
      cutLayer: string;
      preprocessing: Preprocessing;
    };

/**
 * How a run uses its backbone. "frozen": features of a few weak and strong views of each image are
 * computed once and cached, and FixMatch trains a small head on them (a CPU is enough).
 * "finetune": the top of the backbone trains end to end with FixMatch (a GPU server).
 */
export type BackboneMode = "frozen" | "finetune";

/**
 * A backbone ready to run (lib/ml/backbones loads it). `extractor` maps a batch of preprocessed
 * images [N, inputSize, inputSize, channels] to pooled features [N, featureDim]. `id` is stable for
 * the same weights (e.g. "mobilenet-v2-1.00", or a hash of a custom model's files): feature caches
 * are keyed by it.
 */
export type LoadedBackbone = {
  id: string;
  ref: BackboneRef;
  preprocessing: Preprocessing;
  featureDim: number;
  extractor: import("../tf").LayersModel;
  /**
   * The registered tfjs backend its forward passes run on (the worker's forward backend, e.g.
   * webgpu), where its weights were made; feature extraction switches to it for the forward pass
   * only. Absent: whatever backend is active.
   */
  forwardBackend?: string;
};
