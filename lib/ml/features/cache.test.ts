/**
 * The feature cache with a tiny backbone the test builds (conv 8x8x3 -> 4 channels -> global
 * average pooling): cached features equal a fresh forward pass on the same view, a cache hit runs
 * no forward pass, a new image computes only itself, a changed policy is a new key.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Float16Array, getFloat16 } from "@petamoriken/float16";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { DEFAULT_POLICY } from "../augment";
import { initBackend } from "../backend";
import type { LoadedBackbone } from "../backbones/types";
import { registerNoSyncReadBackend, relativeError, seededValues } from "../testing";
import * as tf from "../tf";
import { DEFAULT_TRAIN_CONFIG } from "../config";
import { Rng } from "../rng";
import { argmaxRow, fitStandardizer, headProbs, standardize } from "./heads";
import { HEAD_DEFAULTS, trainFixMatchHead } from "./head-train";
import { drawViewBatch, drawViews, extractPlainFeatures, extractViewFeatures, viewFeaturesDir, viewsKey, type FeatureImage, type FeatureProgress } from "./cache";

const SIZE = 8;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-features-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  await initBackend({ force: "wasm", log: () => {} });
});

function tinyBackbone(id = "tiny"): LoadedBackbone {
  const input = tf.input({ shape: [SIZE, SIZE, 3] });
  const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same", activation: "relu", kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }).apply(input) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({}).apply(conv) as tf.SymbolicTensor;
  const extractor = tf.model({ inputs: input, outputs: pooled });
  return { id, ref: { kind: "custom", source: "test", cutLayer: "conv", preprocessing: { inputSize: SIZE, channels: 3, scale: 1 / 127.5, offset: -1 } }, preprocessing: { inputSize: SIZE, channels: 3, scale: 1 / 127.5, offset: -1 }, featureDim: 4, extractor };
}

function images(n: number, seed = 1): FeatureImage[] {
  return Array.from({ length: n }, (_, i) => {
    const values = seededValues(SIZE * SIZE * 3, seed * 100 + i);
    const pixels = Uint8Array.from(values, (v) => Math.round(127.5 + 127 * v));
    return { sha256: createHash("sha256").update(pixels).digest("hex"), load: async () => pixels };
  });
}

const views = { policy: DEFAULT_POLICY, k: 3, seed: 7 };

function halfToNumber(bits: number): number {
  const view = new DataView(new ArrayBuffer(2));
  view.setUint16(0, bits, true);
  return getFloat16(view, 0, true);
}

it("cached plain and view features equal a fresh forward pass on the same view; a second call runs no forward pass", async () => {
  const dir = path.join(tmp, "a");
  const backbone = tinyBackbone();
  const imgs = images(5);
  const progress: FeatureProgress[] = [];
  const plain = await extractPlainFeatures({ backbone, images: imgs, dir, batchSize: 2, onProgress: (p) => progress.push(p) });
  expect(plain).toHaveLength(5 * 4);
  expect(progress.map((p) => p.done)).toEqual([0, 2, 4, 5]);
  expect(progress.at(-1)).toMatchObject({ stage: "plain", total: 5 });
  expect(progress.at(-1)!.imagesPerS).toBeGreaterThan(0);

  const viewed = await extractViewFeatures({ backbone, images: imgs, dir, views, batchSize: 2 });
  expect(viewed.weak).toHaveLength(5 * 3 * 4);
  for (const [i, img] of imgs.entries()) {
    // Fresh: the plain image preprocessed by hand ((x / 127.5) - 1), and the image's own views.
    const pixels = await img.load();
    const fresh = tf.tidy(() => backbone.extractor.predict(tf.sub(tf.div(tf.tensor4d(Float32Array.from(pixels), [1, SIZE, SIZE, 3]), 127.5), 1)) as tf.Tensor);
    expect(relativeError(plain.subarray(i * 4, (i + 1) * 4), fresh.dataSync())).toBeLessThan(1e-5);
    fresh.dispose();
    const freshViews = tf.tidy(() => backbone.extractor.predict(drawViews(pixels, img.sha256, backbone, views)) as tf.Tensor);
    const values = freshViews.dataSync();
    freshViews.dispose();
    // Views are stored as float16: equal to the fresh features up to float16 rounding (2^-11 relative).
    expect(relativeError(viewed.weak.subarray(i * 12, (i + 1) * 12), values.subarray(0, 12))).toBeLessThan(2 ** -11);
    expect(relativeError(viewed.strong.subarray(i * 12, (i + 1) * 12), values.subarray(12))).toBeLessThan(2 ** -11);
    // ...and exactly those values rounded to float16.
    const half = new Uint16Array(new Float16Array(values).buffer);
    expect(Array.from(viewed.weak.subarray(i * 12, (i + 1) * 12))).toEqual(Array.from(half.subarray(0, 12), (bits) => halfToNumber(bits)));
    const file = path.join(viewFeaturesDir(dir, backbone.id, views), `${img.sha256}.f16`);
    expect(fs.statSync(file).size).toBe(2 * views.k * 4 * 2);
  }
  // The strong views differ from the weak ones (RandAugment + Cutout did something).
  expect(relativeError(viewed.strong, viewed.weak)).toBeGreaterThan(1e-3);

  const predict = vi.spyOn(backbone.extractor, "predict");
  const again = await extractPlainFeatures({ backbone, images: imgs, dir });
  const viewsAgain = await extractViewFeatures({ backbone, images: imgs, dir, views });
  expect(predict).not.toHaveBeenCalled();
  expect(again).toEqual(plain);
  expect(viewsAgain.strong).toEqual(viewed.strong);

  // One new image: one forward pass of one image, the others read back.
  const more = [...imgs, ...images(1, 2)];
  const withNew = await extractViewFeatures({ backbone, images: more, dir, views });
  expect(predict).toHaveBeenCalledTimes(1);
  expect((predict.mock.calls[0][0] as tf.Tensor).shape[0]).toBe(2 * views.k);
  expect(withNew.weak.subarray(0, 5 * 12)).toEqual(viewed.weak);
});

it("views drawn as a batch equal each image's views drawn one at a time, bit for bit", async () => {
  const backbone = tinyBackbone();
  // Enough views that most RandAugment ops are drawn, several of them by views of different images.
  const imgs = images(6, 5);
  const spec = { policy: DEFAULT_POLICY, k: 4, seed: 11 };
  const decoded = await Promise.all(imgs.map(async (img) => ({ sha256: img.sha256, pixels: await img.load() })));
  const batch = drawViewBatch(decoded, backbone, spec);
  expect(batch.shape).toEqual([2 * 6 * 4, SIZE, SIZE, 3]);
  const all = batch.dataSync();
  batch.dispose();
  const perImage = 4 * SIZE * SIZE * 3;
  const weak = all.subarray(0, 6 * perImage);
  const strong = all.subarray(6 * perImage);
  for (const [b, { pixels, sha256 }] of decoded.entries()) {
    const alone = drawViews(pixels, sha256, backbone, spec);
    const values = alone.dataSync();
    alone.dispose();
    expect(Array.from(weak.subarray(b * perImage, (b + 1) * perImage))).toEqual(Array.from(values.subarray(0, perImage)));
    expect(Array.from(strong.subarray(b * perImage, (b + 1) * perImage))).toEqual(Array.from(values.subarray(perImage)));
  }
  // Not vacuous: the images' views differ from each other and from the plain image.
  expect(relativeError(weak.subarray(0, perImage), weak.subarray(perImage, 2 * perImage))).toBeGreaterThan(1e-2);
  expect(relativeError(strong.subarray(0, perImage), weak.subarray(0, perImage))).toBeGreaterThan(1e-2);
});

it("an image's views do not depend on its batch or position", async () => {
  const backbone = tinyBackbone();
  const imgs = images(4, 3);
  const inOrder = await extractViewFeatures({ backbone, images: imgs, dir: path.join(tmp, "b1"), views, batchSize: 4 });
  const reversed = await extractViewFeatures({ backbone, images: [...imgs].reverse(), dir: path.join(tmp, "b2"), views, batchSize: 1 });
  // Views are stored as float16: a forward pass of another batch size is at most one rounding step away.
  expect(relativeError(reversed.weak.subarray(3 * 12, 4 * 12), inOrder.weak.subarray(0, 12))).toBeLessThan(2 ** -11);
});

it("a changed policy, K or seed is a new key and a new folder; the same settings the same key", () => {
  const base = viewsKey(views);
  expect(viewsKey({ ...views, policy: { ...DEFAULT_POLICY } })).toBe(base);
  expect(viewsKey({ ...views, policy: { ...DEFAULT_POLICY, flip: false } })).not.toBe(base);
  expect(viewsKey({ ...views, policy: { ...DEFAULT_POLICY, strongOps: DEFAULT_POLICY.strongOps.slice(1) } })).not.toBe(base);
  expect(viewsKey({ ...views, k: 4 })).not.toBe(base);
  expect(viewsKey({ ...views, seed: 8 })).not.toBe(base);
  expect(viewFeaturesDir("/d", "tiny", views)).not.toBe(viewFeaturesDir("/d", "tiny", { ...views, policy: { ...DEFAULT_POLICY, cutout: 0.25 } }));
  expect(viewFeaturesDir("/d", "other", views)).not.toBe(viewFeaturesDir("/d", "tiny", views));
});

it("a changed policy recomputes views; an image of the wrong size is a clear error", async () => {
  const dir = path.join(tmp, "c");
  const backbone = tinyBackbone();
  const imgs = images(2, 4);
  await extractViewFeatures({ backbone, images: imgs, dir, views });
  const predict = vi.spyOn(backbone.extractor, "predict");
  await extractViewFeatures({ backbone, images: imgs, dir, views: { ...views, policy: { ...DEFAULT_POLICY, flip: false } } });
  expect(predict).toHaveBeenCalled();
  const bad: FeatureImage = { sha256: "a".repeat(64), load: async () => new Uint8Array(10) };
  await expect(extractPlainFeatures({ backbone, images: [bad], dir })).rejects.toThrow(/10 bytes, expected 8x8x3/);
});

it("an image that fails to decode while the batch before it runs fails the extraction with its error; the batch before is kept", async () => {
  const dir = path.join(tmp, "d");
  const backbone = tinyBackbone();
  const good = images(2, 6);
  const broken: FeatureImage = { sha256: "b".repeat(64), load: () => Promise.reject(new Error("corrupt JPEG b")) };
  await expect(extractViewFeatures({ backbone, images: [...good, broken], dir, views, batchSize: 2 })).rejects.toThrow("corrupt JPEG b");
  const predict = vi.spyOn(backbone.extractor, "predict");
  const again = await extractViewFeatures({ backbone, images: good, dir, views });
  expect(predict).not.toHaveBeenCalled();
  expect(again.weak).toHaveLength(2 * 3 * 4);
});

it("with a forwardBackend, only the backbone's forward pass runs there: same features, views drawn on the active backend, which stays selected", async () => {
  const FAKE = "fake-forward";
  await registerNoSyncReadBackend(FAKE);
  try {
    // Equalize reads pixels back synchronously: it would throw if the views were drawn on FAKE.
    const spec = { policy: { ...DEFAULT_POLICY, strongOps: ["Equalize" as const] }, k: 2, seed: 3 };
    const imgs = images(3, 7);
    const onWasm = await extractViewFeatures({ backbone: tinyBackbone(), images: imgs, dir: path.join(tmp, "e1"), views: spec, forwardChunk: 4 });
    const moved = { ...tinyBackbone(), forwardBackend: FAKE };
    const reads = vi.spyOn(tf.engine().registry[FAKE], "read");
    const onFake = await extractViewFeatures({ backbone: moved, images: imgs, dir: path.join(tmp, "e2"), views: spec, forwardChunk: 4 });
    expect(tf.getBackend()).toBe("wasm");
    // 3 images x 4 views in chunks of 4: three forward passes, each read back from FAKE.
    expect(reads).toHaveBeenCalledTimes(3);
    expect(relativeError(onFake.weak, onWasm.weak)).toBeLessThan(2 ** -11);
    expect(relativeError(onFake.strong, onWasm.strong)).toBeLessThan(2 ** -11);
    const plain = await extractPlainFeatures({ backbone: moved, images: imgs, dir: path.join(tmp, "e2") });
    expect(plain).toHaveLength(3 * 4);
    expect(tf.getBackend()).toBe("wasm");
  } finally {
    tf.removeBackend(FAKE);
  }
});

/**
 * Does float16 storage change what the FixMatch head learns? Feature-like data the test makes (5
 * classes, 32 non-negative features up to ~6 as a ReLU6 backbone gives, noisy weak and strong
 * views, 4 labels per class), the head trained twice with the same seed: on the float32 views
 * and on the same views rounded to float16, standardised as a frozen run does.
 */
it("views rounded to float16 train the same FixMatch head as float32 views: the same pool accuracy, nearly every prediction the same", async () => {
  const rng = new Rng(9);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const dim = 32;
  const classes = 5;
  const k = 2;
  const n = 300;
  const centres = Array.from({ length: classes }, () => Array.from({ length: dim }, () => 3 * rng.next()));
  const clip = (v: number) => Math.min(6, Math.max(0, v));
  const truth = Array.from({ length: n }, (_, i) => i % classes);
  const plain = new Float32Array(n * dim);
  const weak = new Float32Array(n * k * dim);
  const strong = new Float32Array(n * k * dim);
  truth.forEach((c, i) => {
    const point = centres[c].map((v) => v + 1.2 * gauss());
    point.forEach((v, d) => (plain[i * dim + d] = clip(v)));
    for (let j = 0; j < k; j++) {
      for (let d = 0; d < dim; d++) {
        weak[(i * k + j) * dim + d] = clip(point[d] + 0.1 * gauss());
        strong[(i * k + j) * dim + d] = clip(point[d] + 0.8 * gauss());
      }
    }
  });
  const toHalf = (values: Float32Array) => Float32Array.from(new Float16Array(values));
  const labeledRows = Array.from({ length: 4 * classes }, (_, i) => i);
  const st = fitStandardizer(plain, dim);
  const train = async (w: Float32Array, s: Float32Array, name: string) => {
    const result = await trainFixMatchHead({
      config: { ...DEFAULT_TRAIN_CONFIG, ...HEAD_DEFAULTS, numClasses: classes, steps: 300, batchSize: 16, mu: 4, lr: 0.05, threshold: 0.9, evalEvery: 300, checkpointEvery: 300, seed: 1 },
      features: { dim, k, plain: standardize(plain, st), weak: standardize(w, st), strong: standardize(s, st) },
      labeled: { rows: labeledRows, classes: labeledRows.map((r) => truth[r]) },
      heldOut: { rows: [], classes: [] },
      unlabeled: [...truth.keys()],
      dir: path.join(tmp, `f16-${name}`),
    });
    const probs = headProbs(result.head, standardize(plain, st), dim);
    result.head.dispose();
    return truth.map((_, i) => argmaxRow(probs, i, classes));
  };
  const full = await train(weak, strong, "f32");
  const half = await train(toHalf(weak), toHalf(strong), "f16");
  const pool = [...truth.keys()].filter((i) => i >= 4 * classes);
  const accuracy = (pred: number[]) => pool.filter((i) => pred[i] === truth[i]).length / pool.length;
  const changed = pool.filter((i) => full[i] !== half[i]).length;
  // Not vacuous: the head learned something (chance is 20%), and float16 did change the inputs.
  expect(accuracy(full)).toBeGreaterThan(0.6);
  expect(relativeError(toHalf(weak), weak)).toBeGreaterThan(0);
  expect(changed).toBeLessThanOrEqual(Math.ceil(0.01 * pool.length));
  expect(Math.abs(accuracy(half) - accuracy(full))).toBeLessThanOrEqual(1 / pool.length + 1e-12);
  console.info(`float16 views: pool accuracy ${accuracy(full).toFixed(3)} (float32) vs ${accuracy(half).toFixed(3)} (float16), ${changed}/${pool.length} predictions changed`);
});
