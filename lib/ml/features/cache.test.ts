/**
 * The feature cache with a tiny backbone the test builds (conv 8x8x3 -> 4 channels -> global
 * average pooling): cached features equal a fresh forward pass on the same view, a cache hit runs
 * no forward pass, a new image computes only itself, a changed policy is a new key.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { DEFAULT_POLICY } from "../augment";
import { initBackend } from "../backend";
import type { LoadedBackbone } from "../backbones/types";
import { registerNoSyncReadBackend, relativeError, seededValues } from "../testing";
import * as tf from "../tf";
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
    expect(relativeError(viewed.weak.subarray(i * 12, (i + 1) * 12), values.subarray(0, 12))).toBeLessThan(1e-5);
    expect(relativeError(viewed.strong.subarray(i * 12, (i + 1) * 12), values.subarray(12))).toBeLessThan(1e-5);
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
  expect(relativeError(reversed.weak.subarray(3 * 12, 4 * 12), inOrder.weak.subarray(0, 12))).toBeLessThan(1e-5);
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
    expect(relativeError(onFake.weak, onWasm.weak)).toBeLessThan(1e-5);
    expect(relativeError(onFake.strong, onWasm.strong)).toBeLessThan(1e-5);
    const plain = await extractPlainFeatures({ backbone: moved, images: imgs, dir: path.join(tmp, "e2") });
    expect(plain).toHaveLength(3 * 4);
    expect(tf.getBackend()).toBe("wasm");
  } finally {
    tf.removeBackend(FAKE);
  }
});
