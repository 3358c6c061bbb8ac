/**
 * One image through a run's model, for POST /api/projects/:id/predict, inside the web server.
 *
 * Why here and not as a worker job: the worker takes jobs one at a time and a training run holds it
 * for minutes, so a "predict this photo" job could wait behind a whole run (and polls add ~0.5 s
 * even when it is idle). One small image is cheap enough to serve directly. bench/predict.ts on 2
 * shared cores (load ~4), wasm, a 1600x1200 JPEG: warm, 25 ms median for the quick-cpu model
 * (16 ms decoding, 7 ms forward) and 64 ms for WRN-28-2 (46 ms forward); the event loop is blocked
 * only for the forward pass. Once per process: importing tfjs 0.34 s; once per model: 0.1-0.3 s to
 * load it and warm the kernels. Training still never runs in a request.
 *
 * tfjs stays out of the web server until the first prediction: this module imports no tfjs; it
 * loads image-predictor.ts (tfjs, the wasm backend) with a dynamic import on first use and keeps
 * the loaded models of the last few runs.
 */
import { decodeImage } from "./pixels";
import type { BackboneRef } from "./backbones/types";
import type { ImagePredictor } from "./image-predictor";

/** Models kept loaded (the latest run, and one more for comparing versions). */
const CACHED_MODELS = 2;

const loaded = new Map<string, Promise<ImagePredictor>>();

function predictorFor(runDir: string, backbone: BackboneRef | null): { predictor: Promise<ImagePredictor>; cold: boolean } {
  const cached = loaded.get(runDir);
  if (cached) {
    // Most recently used last.
    loaded.delete(runDir);
    loaded.set(runDir, cached);
    return { predictor: cached, cold: false };
  }
  const predictor = import("./image-predictor").then((m) => m.loadImagePredictor(runDir, backbone));
  predictor.catch(() => loaded.delete(runDir));
  loaded.set(runDir, predictor);
  while (loaded.size > CACHED_MODELS) {
    const [oldest, evicted] = loaded.entries().next().value!;
    loaded.delete(oldest);
    void evicted.then((p) => p.dispose(), () => undefined);
  }
  return { predictor, cold: true };
}

export type ImagePrediction = {
  /** In the run's class order (its config's classIds). */
  probs: number[];
  backend: string;
  backendReason: string;
  /** Milliseconds: loading the model (0 when it was loaded already), decoding the image, the forward pass. */
  timing: { loadMs: number; decodeMs: number; predictMs: number };
};

/** Throws ImageDecodeError when sharp cannot read `image`. `backbone`: the run's, for a backbone run. */
export async function predictImage(runDir: string, image: Buffer, backbone: BackboneRef | null = null): Promise<ImagePrediction> {
  const start = performance.now();
  const { predictor: pending, cold } = predictorFor(runDir, backbone);
  const predictor = await pending;
  const loadMs = cold ? performance.now() - start : 0;
  const decodeStart = performance.now();
  let pixels: Uint8Array;
  try {
    pixels = await decodeImage(image, predictor.inputSize, predictor.channels);
  } catch (err) {
    throw new ImageDecodeError(err instanceof Error ? err.message : String(err));
  }
  const predictStart = performance.now();
  const probs = Array.from(predictor.predict(pixels));
  const end = performance.now();
  return { probs, backend: predictor.backend, backendReason: predictor.backendReason, timing: { loadMs, decodeMs: predictStart - decodeStart, predictMs: end - predictStart } };
}

export class ImageDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImageDecodeError";
  }
}

/** Drops every loaded model (tests; a deleted run). */
export async function forgetLoadedModels(): Promise<void> {
  const all = [...loaded.values()];
  loaded.clear();
  await Promise.all(all.map((p) => p.then((m) => m.dispose(), () => undefined)));
}
