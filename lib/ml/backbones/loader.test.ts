/**
 * The backbone loader against a real HTTP server on 127.0.0.1 serving a small tfjs layers model
 * the test saves: download with progress, cache hit once the server is gone, corrupt and
 * truncated shards refused, a missing cut layer refused, the offline message; and MobileNetV2's
 * by-name loading of Keras-named weights.
 */
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { saveLayersModel } from "../model-files";
import { buildMobileNetV2 } from "../models/mobilenetv2";
import { relativeError, seededValues } from "../testing";
import * as tf from "../tf";
import { BackboneFilesError, BackboneUnavailableError, backboneStatus, loadBackbone, mobileNetV2Url, type DownloadProgress } from ".";
import type { BackboneRef } from "./types";

const SIZE = 8;
const PRE = { inputSize: SIZE, channels: 3 as const, scale: 1 / 127.5, offset: -1 };
let tmp: string;
let modelDir: string;
let original: tf.LayersModel;

/** conv -> relu ("cut_here") -> conv -> pool -> dense: a classifier whose middle is the backbone. */
function smallModel(): tf.LayersModel {
  const input = tf.input({ shape: [SIZE, SIZE, 3] });
  let x = tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: "same", name: "conv_a", kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), biasInitializer: tf.initializers.randomNormal({ seed: 2 }) }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.reLU({ name: "cut_here" }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, name: "conv_b", kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, name: "head", kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

/** Serves files from `root`, optionally rewriting one file's bytes. */
function serve(root: string, rewrite?: (name: string, bytes: Buffer) => Buffer): Promise<{ url: string; close: () => Promise<void>; requests: string[] }> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const name = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname).replace(/^\/+/, "");
    requests.push(name);
    const file = path.join(root, name);
    if (!fs.existsSync(file)) {
      res.writeHead(404).end("not found");
      return;
    }
    let bytes: Buffer = fs.readFileSync(file);
    if (rewrite) bytes = rewrite(name, bytes);
    res.writeHead(200, { "content-length": bytes.length }).end(bytes);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port;
      resolve({ url: `http://127.0.0.1:${port}/model.json`, requests, close: () => new Promise((r) => server.close(() => r())) });
    }),
  );
}

const custom = (source: string, cutLayer = "cut_here"): BackboneRef => ({ kind: "custom", source, cutLayer, preprocessing: PRE });
const image = () => tf.tensor4d(seededValues(2 * SIZE * SIZE * 3, 9), [2, SIZE, SIZE, 3]);

beforeAll(async () => {
  await import("@tensorflow/tfjs-backend-cpu");
  await tf.setBackend("cpu");
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "backbone-"));
  modelDir = path.join(tmp, "served");
  original = smallModel();
  // Small shards, so a model spans several files like a real one.
  await saveLayersModel(original, modelDir, 256);
});

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});
afterAll(() => {
  original.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

it("downloads model.json and every shard with byte progress, stores them, then reuses them with the server gone", async () => {
  const dataDir = path.join(tmp, "data-download");
  const server = await serve(modelDir);
  const ref = custom(server.url);
  expect((await backboneStatus(ref, dataDir)).cached).toBe(false);

  const events: DownloadProgress[] = [];
  const loaded = await loadBackbone(ref, { dataDir, onProgress: (p) => events.push(p) });
  const shardNames = fs.readdirSync(modelDir).filter((f) => f.endsWith(".bin"));
  expect(shardNames.length).toBeGreaterThan(2);
  expect(server.requests.sort()).toEqual(["model.json", ...shardNames].sort());
  const totalBytes = fs.readdirSync(modelDir).reduce((s, f) => s + fs.statSync(path.join(modelDir, f)).size, 0);
  expect(events.at(-1)).toMatchObject({ bytesDone: totalBytes, bytesTotal: totalBytes });
  for (let i = 1; i < events.length; i++) expect(events[i].bytesDone).toBeGreaterThanOrEqual(events[i - 1].bytesDone);
  expect(new Set(events.map((e) => e.bytesTotal))).toEqual(new Set([totalBytes]));

  const status = await backboneStatus(ref, dataDir);
  expect(status.cached).toBe(true);
  expect(status.folder.startsWith(path.join(dataDir, "backbones"))).toBe(true);
  expect(fs.readdirSync(path.join(dataDir, "backbones"))).toHaveLength(1); // no temporary folder left
  expect(loaded.featureDim).toBe(6);
  expect(loaded.id).toMatch(/^custom-[0-9a-f]{16}$/);
  await server.close();

  const offlineFetch = () => Promise.reject(new TypeError("fetch failed"));
  const again = await loadBackbone(ref, { dataDir, fetchImpl: offlineFetch });
  expect(again.id).toBe(loaded.id);
  const [a, b] = tf.tidy(() => [loaded.extractor.predict(image()) as tf.Tensor, again.extractor.predict(image()) as tf.Tensor]);
  expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
  tf.dispose([a, b]);
  loaded.extractor.dispose();
  again.extractor.dispose();
});

it("the extractor equals a fresh forward pass of the full model cut by hand (layer output, mean over H and W)", async () => {
  const loaded = await loadBackbone(custom(modelDir), { dataDir: path.join(tmp, "data-folder") });
  const cut = tf.model({ inputs: original.inputs, outputs: original.getLayer("cut_here").output as tf.SymbolicTensor });
  const [fromLoader, byHand] = tf.tidy(() => {
    const x = image();
    return [loaded.extractor.predict(x) as tf.Tensor, tf.mean(cut.predict(x) as tf.Tensor, [1, 2])];
  });
  expect(fromLoader.shape).toEqual([2, 6]);
  expect(relativeError(fromLoader.dataSync(), byHand.dataSync())).toBeLessThan(1e-6);
  expect(Math.max(...byHand.dataSync())).toBeGreaterThan(0); // not a degenerate all-zero cut
  tf.dispose([fromLoader, byHand]);
  loaded.extractor.dispose();
});

it("refuses a truncated or corrupt shard with a message naming the files, and caches nothing", async () => {
  const dataDir = path.join(tmp, "data-corrupt");
  const victim = fs.readdirSync(modelDir).find((f) => f.endsWith(".bin"))!;
  const truncated = await serve(modelDir, (name, bytes) => (name === victim ? bytes.subarray(0, bytes.length - 10) : bytes));
  closers.push(truncated.close);
  const err = await loadBackbone(custom(truncated.url), { dataDir }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(BackboneFilesError);
  expect((err as Error).message).toMatch(new RegExp(`${victim}.*truncated or corrupt`));
  expect((await backboneStatus(custom(truncated.url), dataDir)).cached).toBe(false);
  expect(fs.readdirSync(path.join(dataDir, "backbones"))).toEqual([]);

  // A cached copy damaged on disk afterwards is refused too, not loaded as garbage.
  const good = await serve(modelDir);
  closers.push(good.close);
  (await loadBackbone(custom(good.url), { dataDir })).extractor.dispose();
  const folder = (await backboneStatus(custom(good.url), dataDir)).folder;
  fs.appendFileSync(path.join(folder, victim), Buffer.alloc(3));
  await expect(loadBackbone(custom(good.url), { dataDir })).rejects.toThrow(/hold \d+ bytes but model.json's weightsManifest describes \d+/);
});

it("refuses a model without the cut layer, naming the layer it looked for", async () => {
  await expect(loadBackbone(custom(modelDir, "no_such_layer"), { dataDir: path.join(tmp, "data-cut") })).rejects.toThrow(
    /no layer named "no_such_layer" to cut at \(its last layers: .*cut_here/,
  );
});

it("offline with no cached copy: the message names the URL, the folder to fill and the fetch command", async () => {
  const dataDir = path.join(tmp, "data-offline");
  const offlineFetch = () => Promise.reject(new TypeError("fetch failed", { cause: new Error("getaddrinfo ENOTFOUND storage.googleapis.com") }));
  const err = (await loadBackbone({ kind: "mobilenet-v2", alpha: "1.00" }, { dataDir, fetchImpl: offlineFetch }).catch((e: unknown) => e)) as BackboneUnavailableError;
  expect(err).toBeInstanceOf(BackboneUnavailableError);
  const folder = path.join(dataDir, "backbones", "mobilenet-v2-1.00");
  expect(err.message).toContain(mobileNetV2Url("1.00"));
  expect(err.message).toContain(folder);
  expect(err.message).toContain("npm run backbone:fetch -- --alpha 1.00");
  expect(err.message).toContain("ENOTFOUND");
  expect(fs.existsSync(folder)).toBe(false);

  // A real closed port, not a stub: the same error class.
  const server = await serve(modelDir);
  await server.close();
  await expect(loadBackbone(custom(server.url), { dataDir })).rejects.toBeInstanceOf(BackboneUnavailableError);
});

it("MobileNetV2: Keras-named weights load by name into our builder; features are the original's", async () => {
  const keras = buildMobileNetV2({ alpha: 0.35, seed: 11 });
  const filesDir = path.join(tmp, "mnv2");
  await saveLayersModel(keras, filesDir);
  const local = (url: string) => {
    const name = url === mobileNetV2Url("0.35") ? "model.json" : path.basename(new URL(url).pathname);
    const bytes = fs.readFileSync(path.join(filesDir, name));
    return Promise.resolve(new Response(bytes, { headers: { "content-length": String(bytes.length) } }));
  };
  const loaded = await loadBackbone({ kind: "mobilenet-v2", alpha: "0.35" }, { dataDir: path.join(tmp, "data-mnv2"), fetchImpl: local });
  expect(loaded.id).toBe("mobilenet-v2-0.35");
  expect(loaded.featureDim).toBe(1280);
  expect(loaded.preprocessing).toEqual({ inputSize: 224, channels: 3, scale: 1 / 127.5, offset: -1 });
  const [ours, reference] = tf.tidy(() => {
    const x = tf.randomUniform([1, 224, 224, 3], -1, 1, "float32", 4);
    return [loaded.extractor.predict(x) as tf.Tensor, tf.mean(keras.predict(x) as tf.Tensor, [1, 2])];
  });
  expect(relativeError(ours.dataSync(), reference.dataSync())).toBeLessThan(1e-5);
  tf.dispose([ours, reference]);
  loaded.extractor.dispose();
  keras.dispose();
});
