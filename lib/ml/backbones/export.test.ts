/**
 * A backbone run's model export round trip: a small custom backbone (built and saved here) and a
 * dense head saved where the frozen trainer saves it (runs/<id>/head/) are composed into one
 * layers model; the zip's README snippet runs it in a FRESH node process on preprocessing.json's
 * scaling (x/127.5 - 1 here, not /255), and its probabilities must equal the app's single-image
 * prediction and a by-hand pass (backbone cut, mean over H and W, head, softmax).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, expect, it } from "vitest";
import { initBackend } from "../backend";
import { exportLabels, exportMetrics, modelReadme, preprocessingSpec, readModelFiles, streamModelZip } from "../export";
import { exportRunModel, saveLayersModel } from "../model-files";
import { decodeImage } from "../pixels";
import { forgetLoadedModels, predictImage } from "../predict-image";
import { seededValues, unzip } from "../testing";
import * as tf from "../tf";
import { DEFAULT_TRAIN_CONFIG } from "../config";
import { RUN_HEAD_DIR } from "./head";
import { MOBILENET_V2_PREPROCESSING } from "./sources";
import type { BackboneRef } from "./types";

const SIZE = 16;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-backbone-export-"));
const dataDir = path.join(tmp, "data");
const runDir = path.join(dataDir, "runs", "1");
const backboneDir = path.join(tmp, "my-backbone");
const ref: BackboneRef = { kind: "custom", source: backboneDir, cutLayer: "cut_here", preprocessing: { ...MOBILENET_V2_PREPROCESSING, inputSize: SIZE } };
let backboneModel: tf.LayersModel;
let head: tf.LayersModel;
const images: string[] = [];

beforeAll(async () => {
  await initBackend({ force: "wasm", log: () => {} });
  process.env.FIXLABEL_DATA_DIR = dataDir;
  const input = tf.input({ shape: [SIZE, SIZE, 3] });
  let x = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: "same", name: "conv_a", kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), biasInitializer: tf.initializers.randomNormal({ seed: 2, stddev: 0.3 }) }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.reLU({ name: "cut_here" }).apply(x) as tf.SymbolicTensor;
  // Layers after the cut, as a real backbone has (its old classifier): not part of the features.
  x = tf.layers.globalAveragePooling2d({ name: "old_pool" }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 5, name: "old_top" }).apply(x) as tf.SymbolicTensor;
  backboneModel = tf.model({ inputs: input, outputs: x });
  await saveLayersModel(backboneModel, backboneDir);

  // The head as the frozen trainer saves it: raw features in, logits out.
  const sequential = tf.sequential({ name: "fixlabel_head" });
  head = sequential;
  sequential.add(tf.layers.dense({ inputShape: [8], units: 3, name: "head_logits", kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }), biasInitializer: tf.initializers.randomNormal({ seed: 4 }) }));
  await saveLayersModel(head, path.join(runDir, RUN_HEAD_DIR));
  await exportRunModel(runDir, { ref, dataDir });

  for (let i = 0; i < 3; i++) {
    const noise = seededValues(20 * 12 * 3, 50 + i);
    const pixels = Buffer.from(Array.from(noise, (v, p) => Math.round(p % 3 === i ? 200 + 50 * v : 90 + 80 * v)));
    images.push(path.join(tmp, `img${i}.png`));
    await sharp(pixels, { raw: { width: 20, height: 12, channels: 3 } }).png().toFile(images[i]);
  }
});

afterAll(async () => {
  await forgetLoadedModels();
  backboneModel.dispose();
  head.dispose();
  delete process.env.FIXLABEL_DATA_DIR;
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Backbone cut + mean over H and W + head + softmax, on decodeImage's pixels scaled x/127.5 - 1. */
async function byHand(file: string): Promise<number[]> {
  const pixels = await decodeImage(file, SIZE, 3);
  const cut = tf.model({ inputs: backboneModel.inputs, outputs: backboneModel.getLayer("cut_here").output as tf.SymbolicTensor });
  return tf.tidy(() => {
    const x = tf.tensor4d(Float32Array.from(pixels, (v) => v / 127.5 - 1), [1, SIZE, SIZE, 3]);
    const features = tf.mean(cut.predict(x) as tf.Tensor, [1, 2]);
    return Array.from(tf.softmax(head.predict(features) as tf.Tensor).dataSync());
  });
}

it("preprocessing.json of a MobileNetV2 run says 224 px and x/127.5 - 1", () => {
  const spec = preprocessingSpec({ ...DEFAULT_TRAIN_CONFIG, backbone: { kind: "mobilenet-v2", alpha: "1.00" } });
  expect(spec.size).toBe(224);
  expect(spec.channels).toBe(3);
  expect(spec.normalization).toMatchObject({ scale: 1 / 127.5, offset: -1, description: "x/127.5 - 1 to [-1,1]" });
  expect(spec.steps.join("\n")).toMatch(/divide each 8-bit value by 127.5 and subtract 1/);
  // A run from scratch keeps /255, and so does a fine-tuned backbone (it rescales inside the model), at the backbone's size.
  expect(preprocessingSpec(DEFAULT_TRAIN_CONFIG).normalization).toMatchObject({ scale: 1 / 255, offset: 0 });
  const finetuned = preprocessingSpec({ ...DEFAULT_TRAIN_CONFIG, backbone: { kind: "mobilenet-v2", alpha: "1.00" }, backboneMode: "finetune" });
  expect(finetuned).toMatchObject({ size: 224, normalization: { scale: 1 / 255, offset: 0 } });
});

it("the export is one layers model (backbone + head + softmax) that the README snippet runs in a fresh process with the app's probabilities", async () => {
  const dir = path.join(runDir, "export");
  const files = (await readModelFiles(dir))!;
  const modelJson = JSON.parse(fs.readFileSync(path.join(dir, "model.json"), "utf8")) as { modelTopology: { config: { layers: { name: string }[] } } };
  const layerNames = modelJson.modelTopology.config.layers.map((l) => l.name);
  expect(layerNames).toEqual(expect.arrayContaining(["conv_a", "cut_here", "backbone_pool", "head_logits", "probabilities"]));
  expect(layerNames).not.toContain("old_top"); // cut: the backbone's old classifier is not in the export

  const labels = exportLabels([1, 2, 3], new Map([[1, "red"], [2, "green"], [3, "blue"]]));
  const metrics = exportMetrics({ id: 1, modelVersion: "p1-r1", mode: "fixmatch", finishedAt: 0, config: {}, metrics: {} });
  const preprocessing = preprocessingSpec({ ...DEFAULT_TRAIN_CONFIG, backbone: ref });
  expect(preprocessing.size).toBe(SIZE);
  const readme = modelReadme({ projectName: "colours", metrics, labels, preprocessing });
  const chunks: Buffer[] = [];
  for await (const chunk of streamModelZip({ dir, files, labels, preprocessing, metrics, readme })) chunks.push(chunk as Buffer);
  const out = path.join(tmp, "unzipped");
  fs.mkdirSync(out);
  await unzip(Buffer.concat(chunks), out);
  const snippet = /## Node\n```js\n([\s\S]*?)```/.exec(fs.readFileSync(path.join(out, "README.md"), "utf8"))![1];
  fs.writeFileSync(path.join(out, "predict.cjs"), snippet);
  const stdout = execFileSync(process.execPath, [path.join(out, "predict.cjs"), ...images], {
    cwd: os.tmpdir(),
    env: { PATH: process.env.PATH, NODE_ENV: "production", NODE_PATH: path.resolve("node_modules") },
    encoding: "utf8",
  });
  const fresh = stdout.trim().split("\n").map((line) => JSON.parse(line) as { probs: number[] });
  expect(fresh).toHaveLength(images.length);

  for (const [i, file] of images.entries()) {
    const app = await predictImage(runDir, fs.readFileSync(file), ref);
    const hand = await byHand(file);
    for (let c = 0; c < 3; c++) {
      expect(Math.abs(fresh[i].probs[c] - app.probs[c]), `${file} class ${c}: fresh vs app`).toBeLessThan(1e-5);
      expect(Math.abs(hand[c] - app.probs[c]), `${file} class ${c}: by hand vs app`).toBeLessThan(1e-5);
    }
  }
  expect(new Set(fresh.map((r) => r.probs[0].toFixed(4))).size).toBeGreaterThan(1);
});
