/**
 * Backbone features computed once per image and kept on disk, so a frozen-backbone run trains its
 * head on cached vectors instead of running the backbone at every step (issue 12, item 3).
 *
 * Two stores, because the first proposals only need the first one:
 *   <dir>/<backboneId>/plain/<sha256>.f32            the plain view: [dim] float32
 *   <dir>/<backboneId>/views-<viewsKey>/<sha256>.f16 K weak then K strong views: [2K, dim] float16
 * Views are float16 on disk (half the bytes: 20,000 images x 8 views x 1280 features is 0.4 GB
 * instead of 0.8; relative rounding <= 2^-11, which changed none of 280 pool predictions of a
 * FixMatch head in cache.test.ts) and come back as float32 rounded the same way whether they were computed
 * now or read from the cache. The plain features stay float32: proposals and embeddings use them
 * as they are, and they are 1/8 of the size. `viewsKey` includes the format, so views stored as
 * float32 by an older version are in another folder and never misread.
 * The image is named by its content hash, the backbone by its id (stable for the same weights), and
 * the views by `viewsKey` (augmentation policy + K + seed): a second run, or a run after new images
 * arrive, computes only what is missing; a changed policy gets a new folder rather than stale views.
 *
 * Views are drawn at the backbone's input size from the decoded pixels, with the project's
 * augmentation (augment/: weak = flip + shift, strong = that + RandAugment + Cutout). Each image's
 * views come from an Rng seeded by (seed, image hash), so they do not depend on which other images
 * shared the batch or on what was cached before: the cache holds the same views a fresh run would.
 * Extraction draws the views of a whole batch of images at once (drawViewBatch: each image's
 * draws from its own Rng, then one run of each op over the batch), which equals drawing each
 * image's views alone bit for bit. The backbone's forward pass is most of the time (~80% with
 * MobileNetV2 at 224 px on wasm, bench/views-profile.ts); it runs with the BatchNormalization
 * layers, biases and ReLU6 folded into fused convolutions (fold-batchnorm.ts): ~2.7x faster there.
 *
 * Backends: the views are drawn and preprocessed on the active backend (the training one: Equalize
 * reads pixels back synchronously, which webgpu in Node cannot), and only the backbone's forward
 * pass runs on its forwardBackend (the worker's webgpu, where there is one).
 *
 * Memory: decoded pixels are loaded per batch (a 224 px RGB image is 150 KB as uint8, 600 KB as
 * float32), never the whole pool; only the features are held, n x (1 + 2K) x dim float32.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { Float16Array, getFloat16 } from "@petamoriken/float16";
import { writeAtomically } from "@/lib/storage";
import { applyStrongDraws, applyWeakDraws, checkPolicy, drawFlipShift, drawStrong, strongAugment, weakAugment, type AugmentPolicy, type FlipShift, type StrongDraw } from "../augment";
import { withBackend } from "../backend";
import type { LoadedBackbone } from "../backbones/types";
import { Rng } from "../rng";
import * as tf from "../tf";
import { foldBatchNorms } from "../fold-batchnorm";

/** An image to featurise: its content hash and its decoded pixels (inputSize^2 x channels, uint8). */
export type FeatureImage = { sha256: string; load: () => Promise<Uint8Array> };

export type FeatureProgress = {
  stage: "plain" | "views";
  /** Images whose features are ready (cached before or computed now) out of `total`. */
  done: number;
  total: number;
  /** Images computed per second in this call (cache hits excluded); 0 before the first batch. */
  imagesPerS: number;
};

export type ViewsSpec = { policy: AugmentPolicy; k: number; seed: number };

type ExtractOptions = {
  backbone: LoadedBackbone;
  images: readonly FeatureImage[];
  /** The feature cache root, e.g. <dataDir>/features. */
  dir: string;
  onProgress?: (p: FeatureProgress) => void;
  /** Images decoded and run per batch. */
  batchSize?: number;
  /** Checked between batches; a stopped extraction keeps what it wrote. */
  shouldStop?: () => boolean;
  /** Inputs per backbone forward call (views of several images share one). */
  forwardChunk?: number;
};

/**
 * Inputs per forward call. bench/views-profile.ts found no difference between 8, 16, 32 and 64
 * for MobileNetV2 at 224 px on 2-thread wasm beyond the noise of a shared machine; 32 bounds the
 * activations (MobileNetV2's largest is 32 x 112 x 112 x 96 float32, ~150 MB) on any backend.
 */
export const DEFAULT_FORWARD_CHUNK = 32;

/** Short, stable name of an augmentation setting: a different policy, K or seed is a different key. */
export function viewsKey(spec: ViewsSpec): string {
  const { policy } = spec;
  // Fields spelled out in a fixed order, so the key does not depend on how the object was built.
  const canonical = JSON.stringify([policy.flip, policy.translate, [...policy.strongOps].sort(), policy.opsPerImage, policy.cutout, spec.k, spec.seed, VIEWS_FORMAT]);
  return createHash("sha256").update(canonical).digest("hex").slice(0, 16);
}

/** The backbone id as a single safe path segment. */
function backboneFolder(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, "_");
}

export function plainFeaturesDir(dir: string, backboneId: string): string {
  return path.join(dir, backboneFolder(backboneId), "plain");
}

export function viewFeaturesDir(dir: string, backboneId: string, spec: ViewsSpec): string {
  return path.join(dir, backboneFolder(backboneId), `views-${viewsKey(spec)}`);
}

function checkSha(sha: string): void {
  if (!/^[0-9a-f]{64}$/.test(sha)) throw new Error(`feature cache: "${sha}" is not a sha256`);
}

/** How vectors are stored: float32, or float16 (half the bytes, read back as float32). */
type Encoding = "f32" | "f16";
/** The views' storage; part of viewsKey, so a change of format is a change of folder. */
const VIEWS_FORMAT: Encoding = "f16";
const BYTES: Record<Encoding, number> = { f32: 4, f16: 2 };

let halfTable: Float32Array | null = null;
/** Every float16 bit pattern's value: decoding is one lookup per value. */
function halfValues(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    const view = new DataView(new ArrayBuffer(2));
    for (let bits = 0; bits < 65536; bits++) {
      view.setUint16(0, bits, true);
      halfTable[bits] = getFloat16(view, 0, true);
    }
  }
  return halfTable;
}

/** float32 -> float16 bits, rounded to nearest even (IEEE 754, by @petamoriken/float16). */
function toHalfBits(values: Float32Array): Uint16Array {
  return new Uint16Array(new Float16Array(values).buffer);
}

function fromHalfBits(bits: Uint16Array): Float32Array {
  const table = halfValues();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}

/** Values as they come back from storage: float16-rounded for "f16". */
function asStored(values: Float32Array, encoding: Encoding): Float32Array {
  return encoding === "f16" ? fromHalfBits(toHalfBits(values)) : values;
}

async function readVector(file: string, length: number, encoding: Encoding): Promise<Float32Array | null> {
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  // A file of the wrong size (another dim, a torn write from an older version) is recomputed.
  if (bytes.length !== length * BYTES[encoding]) return null;
  // Copied out: a Buffer's offset in its pool need not be aligned for a typed array view.
  const raw = new Uint8Array(length * BYTES[encoding]);
  raw.set(bytes);
  return encoding === "f16" ? fromHalfBits(new Uint16Array(raw.buffer)) : new Float32Array(raw.buffer);
}

async function writeVector(file: string, values: Float32Array, encoding: Encoding): Promise<void> {
  const stored = encoding === "f16" ? toHalfBits(values) : values;
  await writeAtomically(file, (temp) => fsp.writeFile(temp, Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength)));
}

/** uint8 pixels -> float32 [0, 1] NHWC, the scale augment/ works on. */
function toUnit(pixels: readonly Uint8Array[], size: number, channels: number): tf.Tensor4D {
  const frame = size * size * channels;
  const batch = new Float32Array(pixels.length * frame);
  pixels.forEach((p, i) => {
    if (p.length !== frame) throw new Error(`feature extraction: an image has ${p.length} bytes, expected ${size}x${size}x${channels} = ${frame}`);
    for (let j = 0; j < frame; j++) batch[i * frame + j] = p[j] / 255;
  });
  return tf.tensor4d(batch, [pixels.length, size, size, channels]);
}

/** [0, 1] images -> the backbone's input: (255 x) * scale + offset. */
function preprocess(unit: tf.Tensor4D, backbone: LoadedBackbone): tf.Tensor4D {
  const { scale, offset } = backbone.preprocessing;
  return tf.tidy(() => tf.add(tf.mul(unit, 255 * scale), offset) as tf.Tensor4D);
}

/** Per extractor, the model its forward passes run: the same with its BatchNormalizations folded. */
const inferenceModels = new WeakMap<tf.LayersModel, tf.LayersModel>();

/**
 * The backbone's extractor with every BatchNormalization that follows a convolution folded into it
 * (fold-batchnorm.ts: ~45% of MobileNetV2's forward time on wasm was that kernel), made once.
 */
function inferenceModel(backbone: LoadedBackbone): tf.LayersModel {
  let model = inferenceModels.get(backbone.extractor);
  if (!model) {
    model = foldBatchNorms(backbone.extractor);
    inferenceModels.set(backbone.extractor, model);
  }
  return model;
}

/** Disposes a backbone's extractor and the folded copy that feature extraction made of it. */
export function disposeBackbone(backbone: LoadedBackbone): void {
  const folded = inferenceModels.get(backbone.extractor);
  if (folded && folded !== backbone.extractor) folded.dispose();
  inferenceModels.delete(backbone.extractor);
  backbone.extractor.dispose();
}

/**
 * Features of preprocessed images, in chunks of `chunk`; one `extractor.predict` per chunk, on the
 * backbone's forwardBackend when it names one (the input moves there once, on the first slice).
 * Read back with `data()`: webgpu in Node has no synchronous read.
 */
async function forward(backbone: LoadedBackbone, input: tf.Tensor4D, chunk: number): Promise<Float32Array> {
  const n = input.shape[0];
  const out = new Float32Array(n * backbone.featureDim);
  const run = async () => {
    // Made (once) on the backend that runs it, so its folded weights live there.
    const extractor = inferenceModel(backbone);
    for (let start = 0; start < n; start += chunk) {
      const features = tf.tidy(() => {
        const part = tf.slice(input, [start, 0, 0, 0], [Math.min(chunk, n - start), -1, -1, -1]);
        return extractor.predict(part) as tf.Tensor2D;
      });
      try {
        if (features.shape[1] !== backbone.featureDim) {
          throw new Error(`backbone ${backbone.id} gave ${features.shape[1]} features, its featureDim says ${backbone.featureDim}`);
        }
        out.set(await features.data(), start * backbone.featureDim);
      } finally {
        features.dispose();
      }
    }
  };
  if (backbone.forwardBackend) await withBackend(backbone.forwardBackend, run);
  else await run();
  return out;
}

/** A 32-bit seed from the run's seed and the image's hash: the image's views depend on nothing else. */
function imageSeed(seed: number, sha256: string): number {
  return (Number.parseInt(sha256.slice(0, 8), 16) ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0;
}

/**
 * The K weak then K strong views of one image, preprocessed: [2K, S, S, C], made one image at a
 * time with the augmentation library's own weakAugment and strongAugment. The reference that
 * drawViewBatch (what extraction runs) must equal. Caller disposes.
 */
export function drawViews(pixels: Uint8Array, sha256: string, backbone: LoadedBackbone, spec: ViewsSpec): tf.Tensor4D {
  const { inputSize, channels } = backbone.preprocessing;
  const rng = new Rng(imageSeed(spec.seed, sha256));
  return tf.tidy(() => {
    const copies = tf.tile(toUnit([pixels], inputSize, channels), [spec.k, 1, 1, 1]) as tf.Tensor4D;
    const weak = weakAugment(copies, rng, spec.policy);
    const strong = strongAugment(copies, rng, spec.policy).images;
    return preprocess(tf.concat([weak, strong]) as tf.Tensor4D, backbone);
  });
}

/**
 * The views of B images at once, preprocessed, [2 * B * K, S, S, C]: first the weak views, image
 * b's view j at row b * K + j, then the strong views in the same order (row B * K + b * K + j).
 * Every image's draws come from its own Rng, taken in drawViews' order (K weak flip-shifts, then
 * K strong draws), and every op acts on each view on its own, so image b's views equal drawViews(image b) (cache.test.ts checks it bit for bit).
 * Batched, a chunk of images costs one gather per flip-shift and one run of each op, with no
 * K-fold copy of each image first. Caller disposes.
 */
export function drawViewBatch(images: readonly { pixels: Uint8Array; sha256: string }[], backbone: LoadedBackbone, spec: ViewsSpec): tf.Tensor4D {
  const { inputSize: size, channels } = backbone.preprocessing;
  checkPolicy(spec.policy);
  const weakDraws: FlipShift[] = [];
  const strongDraws: StrongDraw[] = [];
  const sourceOf: number[] = [];
  images.forEach(({ sha256 }, b) => {
    const rng = new Rng(imageSeed(spec.seed, sha256));
    for (let j = 0; j < spec.k; j++) weakDraws.push(drawFlipShift(size, size, spec.policy, rng));
    for (let j = 0; j < spec.k; j++) strongDraws.push(drawStrong(size, size, spec.policy, rng));
    for (let j = 0; j < spec.k; j++) sourceOf.push(b);
  });
  return tf.tidy(() => {
    const unit = toUnit(images.map((img) => img.pixels), size, channels);
    // One tensor, so the forward pass packs weak and strong views of small batches into one call.
    return preprocess(tf.concat([applyWeakDraws(unit, weakDraws, sourceOf), applyStrongDraws(unit, strongDraws, sourceOf)]), backbone);
  });
}

/** The plain-view features of the images, row i for images[i]: [n x dim]. */
export async function extractPlainFeatures(opts: ExtractOptions): Promise<Float32Array> {
  const { backbone, images } = opts;
  const { inputSize, channels } = backbone.preprocessing;
  const dim = backbone.featureDim;
  const folder = plainFeaturesDir(opts.dir, backbone.id);
  const rows = await extract(opts, "plain", 1, "f32", (sha) => path.join(folder, `${sha}.f32`), {
    inputs: (batch) => tf.tidy(() => preprocess(toUnit(batch.map((p) => p.pixels), inputSize, channels), backbone)),
    rowOf: (values, i) => values.slice(i * dim, (i + 1) * dim),
  });
  return joinRows(rows, images.length, dim);
}

export type ViewFeatures = {
  k: number;
  /** [n x K x dim]: image i's weak view j at ((i * K) + j) * dim. */
  weak: Float32Array;
  strong: Float32Array;
};

/** The K weak and K strong view features of the images. */
export async function extractViewFeatures(opts: ExtractOptions & { views: ViewsSpec }): Promise<ViewFeatures> {
  const { backbone, images, views } = opts;
  if (!Number.isInteger(views.k) || views.k < 1) throw new Error(`views per image must be a whole number >= 1, got ${views.k}`);
  const folder = viewFeaturesDir(opts.dir, backbone.id, views);
  const { featureDim: dim } = backbone;
  const perView = views.k * dim;
  const rows = await extract(opts, "views", 2 * views.k, VIEWS_FORMAT, (sha) => path.join(folder, `${sha}.${VIEWS_FORMAT}`), {
    inputs: (batch) => drawViewBatch(batch, backbone, views),
    // The forward pass ran [all weak views; all strong views]: image i's file is its K weak then K strong.
    rowOf: (values, i, n) => {
      const row = new Float32Array(2 * perView);
      row.set(values.subarray(i * perView, (i + 1) * perView));
      row.set(values.subarray((n + i) * perView, (n + i + 1) * perView), perView);
      return row;
    },
  });
  const weak = new Float32Array(images.length * perView);
  const strong = new Float32Array(images.length * perView);
  rows.forEach((row, i) => {
    weak.set(row.subarray(0, perView), i * perView);
    strong.set(row.subarray(perView), i * perView);
  });
  return { k: views.k, weak, strong };
}

function joinRows(rows: readonly Float32Array[], n: number, dim: number): Float32Array {
  const out = new Float32Array(n * dim);
  rows.forEach((row, i) => out.set(row, i * dim));
  return out;
}

/**
 * The common part: read what is cached, then for the missing images (each hash once), decode a
 * batch, build its inputs (`rowsPerImage` of them per image, in whatever order `rowOf` undoes),
 * run the backbone, write one file per image. The next batch is decoded (sharp, on libuv's
 * threads) while the backbone runs on this one. Returns one [rowsPerImage x dim] vector per
 * image, in the order of `images`.
 */
async function extract(
  opts: ExtractOptions,
  stage: FeatureProgress["stage"],
  rowsPerImage: number,
  encoding: Encoding,
  fileOf: (sha: string) => string,
  build: {
    inputs: (batch: { sha256: string; pixels: Uint8Array }[]) => tf.Tensor4D;
    /** Image i's vector (of a batch of n) out of the features of the batch's inputs. */
    rowOf: (values: Float32Array, i: number, n: number) => Float32Array;
  },
): Promise<Float32Array[]> {
  const { backbone, images } = opts;
  const batchSize = opts.batchSize ?? 16;
  const forwardChunk = opts.forwardChunk ?? DEFAULT_FORWARD_CHUNK;
  const length = rowsPerImage * backbone.featureDim;
  images.forEach((img) => checkSha(img.sha256));
  const rows: (Float32Array | null)[] = await Promise.all(images.map((img) => readVector(fileOf(img.sha256), length, encoding)));

  const bySha = new Map<string, FeatureImage>();
  images.forEach((img, i) => {
    if (rows[i] === null) bySha.set(img.sha256, img);
  });
  const missing = [...bySha.values()];
  const total = images.length;
  const cachedBefore = images.filter((_, i) => rows[i] !== null).length;
  const computed = new Map<string, Float32Array>();
  opts.onProgress?.({ stage, done: cachedBefore, total, imagesPerS: 0 });
  if (missing.length > 0) fs.mkdirSync(path.dirname(fileOf(missing[0].sha256)), { recursive: true });
  const decode = (start: number) => Promise.all(missing.slice(start, start + batchSize).map(async (img) => ({ sha256: img.sha256, pixels: await img.load() })));
  const started = performance.now();
  let doneImages = cachedBefore;
  let next = missing.length > 0 ? decode(0) : null;
  // A decode that fails while the previous batch runs is reported when its turn comes.
  next?.catch(() => {});
  for (let start = 0; start < missing.length; start += batchSize) {
    if (opts.shouldStop?.()) throw new FeatureExtractionStopped();
    const chunk = missing.slice(start, start + batchSize);
    const decoded = await next!;
    next = start + batchSize < missing.length ? decode(start + batchSize) : null;
    next?.catch(() => {});
    const input = build.inputs(decoded);
    let values: Float32Array;
    try {
      values = await forward(backbone, input, forwardChunk);
    } finally {
      input.dispose();
    }
    for (const [i, img] of chunk.entries()) {
      // Returned as stored, so a run that computes its views gets the values a cached run reads.
      const row = asStored(build.rowOf(values, i, chunk.length), encoding);
      computed.set(img.sha256, row);
      await writeVector(fileOf(img.sha256), row, encoding);
    }
    // Duplicated hashes in `images` all become ready with their one computation.
    doneImages = cachedBefore + images.filter((img, i) => rows[i] === null && computed.has(img.sha256)).length;
    const seconds = (performance.now() - started) / 1000;
    opts.onProgress?.({ stage, done: doneImages, total, imagesPerS: (start + chunk.length) / Math.max(seconds, 1e-9) });
    // Let heartbeats and signal handlers run between batches.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return rows.map((row, i) => row ?? computed.get(images[i].sha256)!);
}

/** Thrown when `shouldStop` answered true between two batches: what was written stays cached. */
export class FeatureExtractionStopped extends Error {
  constructor() {
    super("feature extraction stopped");
  }
}
