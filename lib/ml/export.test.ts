/**
 * The model export round trip: a tiny run is trained (RGB, 8 px, a few steps on wasm), its model
 * files are written as the worker writes them, zipped as the download zips them, unzipped, and the
 * README's own Node snippet runs in a FRESH node process (no FixLabel code: tfjs-core, tfjs-layers,
 * the cpu backend and sharp from this repo's node_modules). Its probabilities must equal the app's
 * single-image prediction (wasm) to 1e-5, on awkward images: non-square, EXIF-rotated JPEG, alpha.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, expect, it } from "vitest";
import { initBackend } from "./backend";
import { exportLabels, exportMetrics, modelReadme, NODE_SNIPPET, preprocessingSpec, readModelFiles, streamModelZip } from "./export";
import { exportRunModel } from "./model-files";
import { forgetLoadedModels, predictImage } from "./predict-image";
import { updatePixelCache } from "./pixels";
import { seededValues, unzip } from "./testing";
import { train } from "./train";
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from "./config";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-model-export-"));
afterAll(async () => {
  await forgetLoadedModels();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const CONFIG: TrainConfig = {
  ...DEFAULT_TRAIN_CONFIG,
  model: { kind: "resnet", width: 4, blocks: 1 },
  inputSize: 8,
  channels: 3,
  numClasses: 3,
  steps: 6,
  batchSize: 6,
  mu: 1,
  emaDecay: 0.5,
  bnMomentum: 0.9,
  logEvery: 6,
  evalEvery: 100,
  checkpointEvery: 100,
};

/** Reddish, greenish or bluish noise, 14x10 (not square: the resize stretches). */
async function makeImage(i: number, file: string): Promise<void> {
  const noise = seededValues(14 * 10 * 3, 100 + i);
  const pixels = Buffer.from(Array.from(noise, (v, p) => Math.round(p % 3 === i % 3 ? 200 + 50 * v : 90 + 80 * v)));
  await sharp(pixels, { raw: { width: 14, height: 10, channels: 3 } }).png().toFile(file);
}

const runDir = path.join(tmp, "run");
const images: string[] = [];

beforeAll(async () => {
  await initBackend({ force: "wasm", log: () => {} });
  for (let i = 0; i < 12; i++) {
    images.push(path.join(tmp, `img${i}.png`));
    await makeImage(i, images[i]);
  }
  const cache = await updatePixelCache({
    files: { frames: path.join(tmp, "cache.u8"), index: path.join(tmp, "cache.json") },
    size: CONFIG.inputSize,
    channels: 3,
    images: images.map((file, id) => ({ id, file })),
  });
  const labeled = images.map((_, i) => ({ imageId: i, frame: i, classIndex: i % 3 }));
  await train({ config: CONFIG, data: { cache, labeled, heldOut: [], unlabeled: labeled.map((e) => e.frame) }, runDir });
  await exportRunModel(runDir);
});

it("the exported zip, loaded by tf.loadLayersModel in a fresh node process, gives the app's probabilities", async () => {
  // Awkward inputs: an EXIF-rotated JPEG and a PNG with transparency, besides the training images.
  const rotated = path.join(tmp, "rotated.jpg");
  await sharp(images[1]).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toFile(rotated);
  const transparent = path.join(tmp, "alpha.png");
  await sharp(images[2]).ensureAlpha(0.4).png().toFile(transparent);
  const inputs = [images[0], images[4], images[5], rotated, transparent];

  const dir = path.join(runDir, "export");
  const files = (await readModelFiles(dir))!;
  expect(files).toEqual(["model.json", "group1-shard1of1.bin"]);
  const labels = exportLabels([7, 3, 9], new Map([[7, "red"], [3, "green"], [9, "blue"]]));
  const metrics = exportMetrics({ id: 1, modelVersion: "p1-r1", mode: "fixmatch", finishedAt: 0, config: { request: { preset: "quick-cpu" } }, metrics: { step: 6, heldOutAcc: 0.5, heldOutImages: 4, trainLabeled: 8 } });
  const preprocessing = preprocessingSpec(CONFIG);
  const readme = modelReadme({ projectName: "colours", metrics, labels, preprocessing });
  const chunks: Buffer[] = [];
  for await (const chunk of streamModelZip({ dir, files, labels, preprocessing, metrics, readme })) chunks.push(chunk as Buffer);

  const out = path.join(tmp, "unzipped");
  fs.mkdirSync(out);
  const names = await unzip(Buffer.concat(chunks), out);
  expect(names.sort()).toEqual(["README.md", "group1-shard1of1.bin", "labels.json", "metrics.json", "model.json", "preprocessing.json"]);
  expect(JSON.parse(fs.readFileSync(path.join(out, "labels.json"), "utf8"))).toEqual([
    { index: 0, classId: 7, name: "red" },
    { index: 1, classId: 3, name: "green" },
    { index: 2, classId: 9, name: "blue" },
  ]);

  // The snippet as the README prints it, not a copy kept in the test.
  const readmeText = fs.readFileSync(path.join(out, "README.md"), "utf8");
  const snippet = /## Node\n```js\n([\s\S]*?)```/.exec(readmeText)![1];
  expect(snippet.trim()).toBe(NODE_SNIPPET.trim());
  fs.writeFileSync(path.join(out, "predict.cjs"), snippet);
  const stdout = execFileSync(process.execPath, [path.join(out, "predict.cjs"), ...inputs], {
    cwd: os.tmpdir(),
    // Only what node needs: no FixLabel setting reaches the fresh process.
    env: { PATH: process.env.PATH, NODE_ENV: "production", NODE_PATH: path.resolve("node_modules") },
    encoding: "utf8",
  });
  const fresh = stdout.trim().split("\n").map((line) => JSON.parse(line) as { file: string; probs: number[]; predicted: string });
  expect(fresh.map((r) => r.file)).toEqual(inputs);

  for (const [i, file] of inputs.entries()) {
    const app = await predictImage(runDir, fs.readFileSync(file));
    expect(app.backend).toMatch(/^wasm /);
    expect(fresh[i].probs).toHaveLength(3);
    for (let c = 0; c < 3; c++) expect(Math.abs(fresh[i].probs[c] - app.probs[c]), `${file} class ${c}`).toBeLessThan(1e-5);
  }
  // The model is not a constant: the images do not all get the same probabilities.
  expect(new Set(fresh.map((r) => r.probs[0].toFixed(4))).size).toBeGreaterThan(1);
});
