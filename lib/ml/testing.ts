/** Helpers for the ml tests: reproducible data, one definition of "relative error", and unzipping an export. */
import fs from "node:fs";
import path from "node:path";
import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import yauzl from "yauzl";
import * as tf from "./tf";

/** Uniform in [-1, 1), reproducible from the seed (mulberry32), independent of the backend. */
export function seededValues(size: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

/** Floor for the denominator, so an all-zero reference does not divide by zero. */
export const RELATIVE_ERROR_FLOOR = 1e-6;

/**
 * Relative error of `actual` against `reference`, over the whole tensor:
 *   max_i |actual_i - reference_i| / max(max_i |reference_i|, RELATIVE_ERROR_FLOOR).
 * Normalising by the tensor's largest value (not per element) is the fair measure for sums
 * computed in a different order: their absolute rounding error scales with the magnitudes summed,
 * so near-zero elements of a gradient carry the same absolute error as large ones.
 */
export function relativeError(actual: ArrayLike<number>, reference: ArrayLike<number>): number {
  if (actual.length !== reference.length) throw new Error(`length ${actual.length} != ${reference.length}`);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < reference.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - reference[i]));
    maxRef = Math.max(maxRef, Math.abs(reference[i]));
  }
  if (Number.isNaN(maxDiff)) return Number.POSITIVE_INFINITY;
  return maxDiff / Math.max(maxRef, RELATIVE_ERROR_FLOOR);
}

/** Runs `fn` on the named backend and copies its tensors out (so they outlive backend switches). */
export async function onBackend<T extends tf.Tensor[]>(backend: string, fn: () => T): Promise<Float32Array[]> {
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} failed to initialise`);
  const tensors = fn();
  const values = await Promise.all(tensors.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose(tensors);
  return values;
}

/** The cpu backend without synchronous reads, as webgpu is in Node (its readSync needs OffscreenCanvas). */
class NoSyncReadBackend extends MathBackendCPU {
  override readSync(): never {
    throw new Error("no synchronous read on this backend");
  }
  override async read(dataId: object) {
    return super.readSync(dataId);
  }
}

/**
 * Registers (and initialises) a stand-in for a forward-only GPU backend under `name`: its own
 * tensor storage, so tensors really move between it and wasm; the cpu kernels; and, like webgpu in
 * Node, no synchronous read (dataSync, and moving a tensor off it, throw). The active backend stays
 * selected. Remove it with tf.removeBackend(name).
 */
export async function registerNoSyncReadBackend(name: string): Promise<void> {
  const active = tf.getBackend();
  tf.registerBackend(name, () => new NoSyncReadBackend());
  for (const kernel of tf.getKernelsForBackend("cpu")) tf.registerKernel({ ...kernel, backendName: name });
  await tf.setBackend(name);
  if (active) await tf.setBackend(active);
}

/** Writes a zip's entries (flat names, as the model export has) into `dir`; resolves with their names in zip order. */
export function unzip(zip: Buffer, dir: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(zip, { lazyEntries: true }, (err, file) => {
      if (err) return reject(err);
      const names: string[] = [];
      file.on("entry", (entry: yauzl.Entry) =>
        file.openReadStream(entry, (e, stream) => {
          if (e) return reject(e);
          names.push(entry.fileName);
          stream.pipe(fs.createWriteStream(path.join(dir, entry.fileName))).on("finish", () => file.readEntry());
        }),
      );
      file.on("end", () => resolve(names));
      file.on("error", reject);
      file.readEntry();
    });
  });
}
