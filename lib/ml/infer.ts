/**
 * Prediction with a trained run: the EMA model from the run's checkpoint, applied in batches to
 * frames of a pixel cache. Every prediction is stamped with a model version ("p<project>-r<run>")
 * by its caller, so proposals and exports can say which model made them.
 */
import { loadCheckpoint } from "./checkpoint";
import { framesToTensor } from "./data";
import { writeWeights } from "./ema";
import { buildTrainModel, type BackboneLoadOptions } from "./backbones/finetune";
import { foldBatchNorms } from "./fold-batchnorm";
import * as tf from "./tf";
import type { TrainCheckpointMeta, TrainConfig } from "./config";

export function modelVersion(projectId: number, runId: number): string {
  return `p${projectId}-r${runId}`;
}

/**
 * The model prediction runs: `model` with its BatchNormalizations folded into the convolutions
 * before them and the activations after them fused in (fold-batchnorm.ts; on wasm the inference
 * BatchNorm kernel is a slow scalar loop). A new model with its own weights, to free with
 * `dispose` (a no-op when there was nothing to fold); the trained model stays as it is for
 * training, EMA and export. A caller that predicts many times folds once and passes the folded
 * model: folding it again returns it as it is.
 */
export function inferenceModel(model: tf.LayersModel): { model: tf.LayersModel; dispose: () => void } {
  const folded = foldBatchNorms(model);
  return { model: folded, dispose: () => (folded === model ? undefined : folded.dispose()) };
}

/**
 * Softmax probabilities, frames.length x numClasses, row-major, by the folded model
 * (inferenceModel: made once for the call, or reused when `model` is already folded).
 */
export function predictProbs(
  model: tf.LayersModel,
  cache: { size: number; channels: number; pixels: Uint8Array },
  frames: readonly number[],
  batchSize = 256,
): Float32Array {
  const numClasses = model.outputs[0].shape[1] as number;
  const out = new Float32Array(frames.length * numClasses);
  const folded = inferenceModel(model);
  try {
    for (let start = 0; start < frames.length; start += batchSize) {
      const probs = tf.tidy(() => tf.softmax(folded.model.predict(framesToTensor(cache, frames.slice(start, start + batchSize))) as tf.Tensor2D));
      out.set(probs.dataSync(), start * numClasses);
      probs.dispose();
    }
  } finally {
    folded.dispose();
  }
  return out;
}

/**
 * Softmax probabilities and penultimate-layer features in one pass, for "label next"'s diversity
 * (lib/ml/embeddings.ts). Our models end in global average pooling -> dense logits, so the input
 * of the last layer is the pooled feature vector the classifier separates classes with: images
 * close there look alike to the model. Runs the folded model, as predictProbs does.
 */
export async function predictProbsAndEmbeddings(
  model: tf.LayersModel,
  cache: { size: number; channels: number; pixels: Uint8Array },
  frames: readonly number[],
  batchSize = 256,
): Promise<{ probs: Float32Array; embeddings: Float32Array; dim: number }> {
  const folded = inferenceModel(model);
  try {
    const run = folded.model;
    const logitsLayer = run.layers[run.layers.length - 1];
    const features = logitsLayer.input as tf.SymbolicTensor;
    const dim = features.shape[1] as number;
    const numClasses = run.outputs[0].shape[1] as number;
    // Shares the model's layers and weights: no copy, and disposing it would dispose them too.
    const twoHeads = tf.model({ inputs: run.inputs, outputs: [features, run.outputs[0]] });
    const probs = new Float32Array(frames.length * numClasses);
    const embeddings = new Float32Array(frames.length * dim);
    for (let start = 0; start < frames.length; start += batchSize) {
      const [f, p] = tf.tidy(() => {
        const [feat, logits] = twoHeads.predict(framesToTensor(cache, frames.slice(start, start + batchSize))) as tf.Tensor2D[];
        return [feat, tf.softmax(logits)];
      });
      // Asynchronous reads: the worker predicts on its forward backend, and webgpu in Node has no synchronous one.
      try {
        embeddings.set(await f.data(), start * dim);
        probs.set(await p.data(), start * numClasses);
      } finally {
        tf.dispose([f, p]);
      }
    }
    return { probs, embeddings, dim };
  } finally {
    folded.dispose();
  }
}

/** The EMA model of a run's checkpoint. Caller disposes `model`. */
export async function loadTrainedModel(runDir: string, backbone: BackboneLoadOptions = {}): Promise<{ model: tf.LayersModel; config: TrainConfig; step: number }> {
  const checkpoint = await loadCheckpoint<TrainCheckpointMeta>(runDir);
  if (!checkpoint) throw new Error(`no checkpoint in ${runDir}`);
  const { config, step } = checkpoint.meta;
  // A fine-tuned backbone run rebuilds its backbone (from the cached files) before the checkpoint's weights go in.
  const model = await buildTrainModel(config, backbone);
  writeWeights(model, checkpoint.arrays.ema);
  return { model, config, step };
}
