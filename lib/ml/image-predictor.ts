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
import { inferenceModel, loadTrainedModel, predictProbs } from "./infer";
import type { Channels } from "./pixels";

export type ImagePredictor = {
  inputSize: number;
  channels: Channels;
  backend: string;
  /** Why this backend: the web server's choice, or why wasm could not start and cpu serves instead. */
  backendReason: string;
  /** size*size*channels uint8 pixels (pixels.ts decodeImage) -> probabilities in the run's class order. */
  predict(pixels: Uint8Array): Float32Array;
  dispose(): void;
};

let backend: Promise<BackendChoice> | null = null;

/** Why the web server predicts on wasm (the README's promise, shown by the predict API and page). */
export const WEB_BACKEND_REASON = "wasm in the web server: one small image at a time does not warrant loading libtensorflow (hundreds of MB and its own threads) next to the app; the worker trains on the fastest backend it finds";

/**
 * wasm, not the native tfjs-node the worker may use (WEB_BACKEND_REASON). cpu if wasm cannot
 * start, and then the reason says why, so a slow prediction is never a silent mystery.
 */
function ensureBackend(): Promise<BackendChoice> {
  // One wasm thread in the web process: its pthread shim patches globals (Blob, URL) that a web
  // server should keep as they are; the worker and the scripts use every core.
  backend ??= initBackend({ force: "wasm", wasmThreads: 1, log: () => {} })
    .then((choice) => ({ ...choice, reason: WEB_BACKEND_REASON }))
    .catch(async (err: unknown) => {
      const why = err instanceof Error ? err.message : String(err);
      console.warn(`[predict] wasm backend unavailable, predicting on cpu: ${why}`);
      const cpu = await initBackend({ force: "cpu", log: () => {} });
      return { ...cpu, reason: `cpu because wasm could not start here: ${why}` };
    });
  return backend;
}

/**
 * A backbone run (its head in runDir/head/): the backbone from its cached files and the head, as
 * one model (backbones/compose.ts, the model the export holds), on the backbone's preprocessing.
 */
async function loadBackbonePredictor(runDir: string, ref: BackboneRef, choice: BackendChoice): Promise<ImagePredictor> {
  const classifier = await loadRunClassifier(runDir, ref, getEnv().dataDir);
  const { inputSize, channels } = classifier.backbone.preprocessing;
  // Folded once here, not per image (infer.ts inferenceModel); freed with the classifier.
  const folded = inferenceModel(classifier.model);
  const predict = (pixels: Uint8Array) => {
    if (pixels.length !== inputSize * inputSize * channels) throw new Error(`expected ${inputSize}x${inputSize}x${channels} pixels, got ${pixels.length} values`);
    return tf.tidy(() => (folded.model.predict(backboneInput(pixels, 1, classifier.backbone)) as tf.Tensor).dataSync() as Float32Array);
  };
  predict(new Uint8Array(inputSize * inputSize * channels));
  const dispose = () => {
    folded.dispose();
    classifier.dispose();
  };
  return { inputSize, channels, backend: describeBackend(choice), backendReason: choice.reason, predict, dispose };
}

/** "wasm (SIMD, 2 threads)", or the backend's name. */
function describeBackend(choice: BackendChoice): string {
  return choice.name === "wasm" ? `wasm (${choice.simd ? "SIMD" : "no SIMD"}, ${choice.threads ?? 1} thread${choice.threads === 1 ? "" : "s"})` : choice.name;
}

export async function loadImagePredictor(runDir: string, backbone: BackboneRef | null = null): Promise<ImagePredictor> {
  const choice = await ensureBackend();
  if (backbone && hasRunHead(runDir)) return loadBackbonePredictor(runDir, backbone, choice);
  const { model, config } = await loadTrainedModel(runDir);
  const { inputSize: size, channels } = config;
  // Folded once at load: predictProbs reuses a folded model as it is instead of folding per image.
  const folded = inferenceModel(model);
  const predict = (pixels: Uint8Array) => {
    if (pixels.length !== size * size * channels) throw new Error(`expected ${size}x${size}x${channels} pixels, got ${pixels.length} values`);
    return predictProbs(folded.model, { size, channels, pixels }, [0]);
  };
  // The first call on a backend compiles and allocates what the kernels need; pay it here, not in a user's request.
  predict(new Uint8Array(size * size * channels));
  const dispose = () => {
    folded.dispose();
    model.dispose();
  };
  return { inputSize: size, channels, backend: describeBackend(choice), backendReason: choice.reason, predict, dispose };
}
