/**
 * `npm run train` end to end, as a user runs it (a child process through tsx), on a tiny ImageFolder
 * the test makes (reddish / greenish / bluish 16x16 PNGs, 8 labeled per class, 6 unlabeled per
 * class whose true class only the test knows) and "your own backbone": one conv layer saved as a
 * tfjs layers model folder. Checks the frozen-backbone path (the default mode on a CPU backend),
 * the exported model (loads, 3 probabilities, the same as predictions.csv) and the default start
 * (ImageNet MobileNetV2 only when its weights are on disk, always with the reason).
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, expect, it } from "vitest";
import { initBackend } from "../lib/ml/backend";
import { readModelFolder } from "../lib/ml/backbones/files";
import { saveLayersModel } from "../lib/ml/model-files";
import { buildMobileNetV2 } from "../lib/ml/models/mobilenetv2";
import { decodeImage } from "../lib/ml/pixels";
import { seededValues } from "../lib/ml/testing";
import * as tf from "../lib/ml/tf";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-train-cli-"));
const data = path.join(tmp, "photos");
const backboneDir = path.join(tmp, "backbone");
const CLASSES = ["bluish", "greenish", "reddish"];
/** Which channel is bright in each class (R=0, G=1, B=2). */
const BRIGHT = { bluish: 2, greenish: 1, reddish: 0 } as const;

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function writeImage(file: string, className: keyof typeof BRIGHT, seed: number): Promise<void> {
  const noise = seededValues(16 * 16 * 3, seed);
  const pixels = Buffer.from(Array.from(noise, (v, p) => Math.round((p % 3 === BRIGHT[className] ? 170 : 70) + 50 * v)));
  await sharp(pixels, { raw: { width: 16, height: 16, channels: 3 } }).png().toFile(file);
}

beforeAll(async () => {
  await initBackend({ force: "wasm", log: () => {} });
  // A conv layer with random weights, cut there: features that keep colour (the loader pools them).
  const input = tf.input({ shape: [8, 8, 3] });
  const conv = tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: "same", activation: "relu", name: "features", kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }), biasInitializer: "zeros" }).apply(input) as tf.SymbolicTensor;
  const top = tf.layers.dense({ units: 2, name: "old_top" }).apply(tf.layers.globalAveragePooling2d({}).apply(conv)) as tf.SymbolicTensor;
  await saveLayersModel(tf.model({ inputs: input, outputs: top }), backboneDir);

  fs.mkdirSync(path.join(data, "unlabeled"), { recursive: true });
  for (const [c, name] of CLASSES.entries()) {
    fs.mkdirSync(path.join(data, name), { recursive: true });
    for (let i = 0; i < 8; i++) await writeImage(path.join(data, name, `${i}.png`), name as keyof typeof BRIGHT, 100 * c + i + 1);
    // The true class is in the file name for the test only; the CLI sees an unlabeled folder.
    for (let i = 0; i < 6; i++) await writeImage(path.join(data, "unlabeled", `${name}-${i}.png`), name as keyof typeof BRIGHT, 100 * c + 50 + i);
  }
});

function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      path.join("node_modules", ".bin", "tsx"),
      ["scripts/train.ts", ...args],
      { env: { ...process.env, FIXLABEL_WASM_THREADS: "1", FIXLABEL_TF_BACKEND: "wasm", ...env }, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The model folder the CLI wrote, loaded as anyone would (model.json + shards). */
async function loadModelFolder(dir: string): Promise<tf.LayersModel> {
  const files = await readModelFolder(dir);
  const weightSpecs = (files.json.weightsManifest ?? []).flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[];
  const weights = Buffer.concat((files.json.weightsManifest ?? []).flatMap((g) => g.paths.map((p) => files.shards.get(p)!)));
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: files.json.modelTopology as object, weightSpecs, weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer }));
}

function readCsv(file: string): Record<string, string>[] {
  const [header, ...rows] = fs.readFileSync(file, "utf8").trim().split("\n").map((l) => l.split(","));
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
}

it("trains a frozen backbone by default on a CPU backend: features, probe on held-out labels, head vs probe, one composed model", async () => {
  const out = path.join(tmp, "out-frozen");
  const { code, stdout, stderr } = await runCli(
    ["--data", data, "--backbone", backboneDir, "--cut-layer", "features", "--input-size", "8", "--steps", "300", "--out", out],
    { FIXLABEL_DATA_DIR: path.join(tmp, "data-dir") },
  );
  expect(stderr).not.toMatch(/Error/);
  expect(code).toBe(0);
  // Features of every image, then of the views; the instant heads on the held-out labels (2 per class).
  expect(stdout).toMatch(/^features 42\/42 images/m);
  expect(stdout).toMatch(/^features of 4 weak \+ 4 strong views 42\/42 images/m);
  expect(stdout).toMatch(/frozen \(6 features at 8px\); 18 labeled for training, 6 held out/);
  const instant = /^instant heads on 6 held-out labels: linear probe (\d)\/6 right \(\d+%, 95% interval \d+–\d+%\), class mean (\d)\/6 right .*; proposals from the (linear probe|class mean) after/m.exec(stdout);
  expect(instant, stdout).not.toBeNull();
  // The probe beats chance (2 of 6) on the held-out labels of these separable colours.
  expect(Number(instant![1])).toBeGreaterThanOrEqual(5);
  expect(stdout).toMatch(/^head step 300\/300 /m);
  const decision = /^held out \(n=6\): .*; model: the (FixMatch head|linear probe|class mean) \((.*)\)$/m.exec(stdout);
  expect(decision, stdout).not.toBeNull();

  // The model the CLI wrote: the backbone, the head and a softmax in one layers model, loaded as anyone would.
  const model = await loadModelFolder(path.join(out, "model"));
  expect(model.inputs[0].shape).toEqual([null, 8, 8, 3]);
  expect(model.outputs[0].shape).toEqual([null, 3]);
  const preprocessing = JSON.parse(fs.readFileSync(path.join(out, "model", "preprocessing.json"), "utf8")) as { size: number; normalization: { scale: number; offset: number } };
  expect(preprocessing).toMatchObject({ size: 8, normalization: { scale: 1 / 127.5, offset: -1 } });
  expect(JSON.parse(fs.readFileSync(path.join(out, "model", "labels.json"), "utf8"))).toEqual(CLASSES.map((name, index) => ({ index, name })));

  // Its probabilities are predictions.csv's, image by image (the CSV rounds to 4 decimals).
  const rows = readCsv(path.join(out, "predictions.csv"));
  expect(rows).toHaveLength(42);
  for (const row of rows.filter((_, i) => i % 5 === 0)) {
    const pixels = await decodeImage(path.join(data, row.file), 8, 3);
    const probs = tf.tidy(() => (model.predict(tf.tensor4d(Float32Array.from(pixels, (v) => v / 127.5 - 1), [1, 8, 8, 3])) as tf.Tensor).dataSync());
    expect(probs.length).toBe(3);
    CLASSES.forEach((c, k) => expect(Math.abs(probs[k] - Number(row[`p_${c}`]))).toBeLessThan(2e-4));
  }
  model.dispose();

  // Separable colours: on the 18 unlabeled images (none trained with a label) the chosen head is
  // far above chance (1/3). Measured here: all 18 right; the bar is 15 of 18.
  const unlabeled = rows.filter((r) => r.file.startsWith("unlabeled"));
  expect(unlabeled).toHaveLength(18);
  const right = unlabeled.filter((r) => path.basename(r.file).startsWith(r.predicted)).length;
  expect(right).toBeGreaterThanOrEqual(15);

  // The head saved beside its checkpoint, and the run composed the way the app's export does.
  const headInfo = JSON.parse(fs.readFileSync(path.join(out, "run", "head", "head.json"), "utf8")) as { headKind: string; featureDim: number; numClasses: number };
  expect(headInfo).toMatchObject({ featureDim: 6, numClasses: 3 });
  expect(decision![1]).toBe({ fixmatch: "FixMatch head", "linear-probe": "linear probe", "class-mean": "class mean" }[headInfo.headKind]);
}, 240_000);

/**
 * A stand-in for the downloaded ImageNet MobileNetV2 (alpha 1.00): our builder's network (Keras'
 * layer names and shapes, the loader checks every weight) with random weights, saved where
 * `npm run backbone:fetch` puts it.
 */
async function fakeCachedMobileNet(dataDir: string): Promise<string> {
  const folder = path.join(dataDir, "backbones", "mobilenet-v2-1.00");
  const model = buildMobileNetV2({ alpha: 1, seed: 5 });
  await saveLayersModel(model, folder);
  model.dispose();
  return folder;
}

it("starts from ImageNet MobileNetV2 when its weights are on disk, says so, and trains it frozen; --backbone none trains from scratch", async () => {
  const dataDir = path.join(tmp, "data-with-mobilenet");
  const folder = await fakeCachedMobileNet(dataDir);
  // Two images per class: MobileNetV2 at 224 px runs ~10 images/s here, and each image has 1 + 8 views.
  const small = path.join(tmp, "photos-small");
  for (const name of ["bluish", "reddish"] as const) {
    fs.mkdirSync(path.join(small, name), { recursive: true });
    for (let i = 0; i < 2; i++) await writeImage(path.join(small, name, `${i}.png`), name, 7 + i);
  }
  const out = path.join(tmp, "out-default");
  const run = await runCli(["--data", small, "--steps", "20", "--out", out], { FIXLABEL_DATA_DIR: dataDir });
  expect(run.code, run.stderr).toBe(0);
  expect(run.stdout).toContain(`start: ImageNet MobileNetV2 (alpha 1.00) (ImageNet MobileNetV2 (alpha 1.00) is the default start, and its weights are downloaded (${path.resolve(folder)})`);
  expect(run.stdout).toMatch(/backbone: ImageNet MobileNetV2 \(alpha 1\.00\), frozen \(1280 features at 224px\)/);
  const model = await loadModelFolder(path.join(out, "model"));
  expect(model.inputs[0].shape).toEqual([null, 224, 224, 3]);
  expect(model.outputs[0].shape).toEqual([null, 2]);
  expect(model.layers.map((l) => l.name)).toContain("out_relu");
  expect(model.layers.at(-1)!.name).toBe("probabilities");
  model.dispose();
  expect(fs.readdirSync(path.join(out, "features"))).toEqual(["mobilenet-v2-1.00"]);

  const scratch = await runCli(["--data", small, "--backbone", "none", "--steps", "5", "--out", path.join(tmp, "out-none")], { FIXLABEL_DATA_DIR: dataDir });
  expect(scratch.code, scratch.stderr).toBe(0);
  expect(scratch.stdout).toContain("start: from scratch (--backbone none)");
  expect(scratch.stdout).not.toMatch(/^backbone:/m);
}, 240_000);

it("without MobileNetV2's weights it trains from scratch and says why and how to get them", async () => {
  const dataDir = path.join(tmp, "data-empty");
  const run = await runCli(["--data", data, "--steps", "5", "--out", path.join(tmp, "out-scratch")], { FIXLABEL_DATA_DIR: dataDir });
  expect(run.code, run.stderr).toBe(0);
  const folder = path.join(path.resolve(dataDir), "backbones", "mobilenet-v2-1.00");
  expect(run.stdout).toContain(
    `start: from scratch (ImageNet MobileNetV2 (alpha 1.00), the default start, is not downloaded (no model.json in ${folder}), so this run trains the quick-cpu preset's model from scratch instead. To start from it: npm run backbone:fetch -- --alpha 1.00`,
  );
  expect(run.stdout).toMatch(/^fixmatch, preset quick-cpu, 5 steps/m);
  expect(fs.existsSync(path.join(tmp, "out-scratch", "model", "model.json"))).toBe(true);
}, 240_000);
