/**
 * A run's EMA model ready to classify one image at a time: the same checkpoint, the same weights
 * and the same batched code path (infer.ts predictProbs over a one-frame pixel cache) as the
 * worker's "predict" job, so a single image gets the probabilities that job would write for it.
 * Loaded only through predict-image.ts, which imports this module (and so tfjs) on first use.
 */
import { initBackend, type BackendChoice } from "./backend";
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
  // One wasm thread in the web process: its pthread shim patches globals (Blob, URL) that a web
  // server should keep as they are; the worker and the scripts use every core.
  backend ??= initBackend({ force: "wasm", wasmThreads: 1, log: () => {} }).catch(() => initBackend({ force: "cpu", log: () => {} }));
  return backend;
}

export async function loadImagePredictor(runDir: string): Promise<ImagePredictor> {
  const choice = await ensureBackend();
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
