/**
 * A run's EMA model ready to classify one image at a time: the same checkpoint, the same weights
 * and the same batched code path (infer.ts predictProbs over a one-frame pixel cache) as the
 * worker's "predict" job, so a single image gets the probabilities that job would write for it.
 * Loaded only through predict-image.ts, which imports this module (and so tfjs) on first use.
 */
import { initBackend, type BackendChoice } from "./backend";
import { backboneInput } from "./backbones/compose";
import { hasRunHead, loadRunClassifier } from "./backbones/head";
import type { BackboneRef } from "./backbones/types";
import { getEnv } from "@/lib/env";
import * as tf from "./tf";
import { loadTrainedModel, predictProbs } from "./infer";
import type { Channels } from "./pixels";

export type ImagePredictor = {
  inputSize: number;
  channels: Channels;
  backend: string;
  /** size*size*channels uint8 pixels (pixels.ts decodeImage) -> probabilities in the run's class order. */
  predict(pixels: Uint8Array): Float32Array;
  dispose(): void;
};

let backend: Promise<BackendChoice> | null = null;

/**
 * wasm, not the native tfjs-node the worker may use: the web server should not load libtensorflow
 * (hundreds of MB, its own thread pool) for one small image at a time. cpu if wasm cannot start.
 */
function ensureBackend(): Promise<BackendChoice> {
  backend ??= initBackend({ force: "wasm", log: () => {} }).catch(() => initBackend({ force: "cpu", log: () => {} }));
  return backend;
}

/**
 * A backbone run (its head in runDir/head/): the backbone from its cached files and the head, as
 * one model (backbones/compose.ts, the model the export holds), on the backbone's preprocessing.
 */
async function loadBackbonePredictor(runDir: string, ref: BackboneRef, backend: string): Promise<ImagePredictor> {
  const classifier = await loadRunClassifier(runDir, ref, getEnv().dataDir);
  const { inputSize, channels } = classifier.backbone.preprocessing;
  const predict = (pixels: Uint8Array) => {
    if (pixels.length !== inputSize * inputSize * channels) throw new Error(`expected ${inputSize}x${inputSize}x${channels} pixels, got ${pixels.length} values`);
    return tf.tidy(() => (classifier.model.predict(backboneInput(pixels, 1, classifier.backbone)) as tf.Tensor).dataSync() as Float32Array);
  };
  predict(new Uint8Array(inputSize * inputSize * channels));
  return { inputSize, channels, backend, predict, dispose: classifier.dispose };
}

export async function loadImagePredictor(runDir: string, backbone: BackboneRef | null = null): Promise<ImagePredictor> {
  const choice = await ensureBackend();
  if (backbone && hasRunHead(runDir)) return loadBackbonePredictor(runDir, backbone, choice.name);
  const { model, config } = await loadTrainedModel(runDir);
  const { inputSize: size, channels } = config;
  const predict = (pixels: Uint8Array) => {
    if (pixels.length !== size * size * channels) throw new Error(`expected ${size}x${size}x${channels} pixels, got ${pixels.length} values`);
    return predictProbs(model, { size, channels, pixels }, [0]);
  };
  // The first call on a backend compiles and allocates what the kernels need; pay it here, not in a user's request.
  predict(new Uint8Array(size * size * channels));
  return { inputSize: size, channels, backend: choice.name, predict, dispose: () => model.dispose() };
}
