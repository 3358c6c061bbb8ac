/**
 * The model export of a run, as a zip anyone can use without FixLabel:
 *
 *   model.json, group1-shard*.bin   TensorFlow.js layers model: the EMA weights, softmax included
 *   labels.json                     output index -> class: [{ index, classId, name }]
 *   preprocessing.json              how an image becomes the input tensor (exactly as training did)
 *   metrics.json                    the run's held-out figures
 *   README.md                       what each file is, a Node and a browser snippet
 *
 * The model files are written by the worker (model-files.ts, which needs tfjs) into
 * <dataDir>/runs/<id>/export/ when a run finishes; this module only reads them and zips, so the
 * web server that imports it never loads tfjs.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { ZipFile } from "yazl";
import { getEnv } from "@/lib/env";
import { backbonePreprocessing, describeBackbone } from "./backbones/sources";
import { formatProportion, MIN_EVIDENCE_N, trainerHeldOutAccuracy, type StoredRunMetrics } from "@/lib/review/ground-truth";
import type { TrainConfig } from "./config";

/** Where a run keeps its checkpoint, data snapshot and export. */
export function runDir(runId: number): string {
  return path.join(getEnv().dataDir, "runs", String(runId));
}

/** The model files' folder inside a run's folder. */
export const MODEL_FILES_DIR = "export";

export function modelFilesDir(runId: number): string {
  return path.join(runDir(runId), MODEL_FILES_DIR);
}

/**
 * The files of a finished export (model.json first, then its shards), or null while there is none.
 * Shard names come from model.json, which the worker wrote; they are still checked to be plain
 * file names, so a tampered model.json cannot make the zip read files elsewhere.
 */
export async function readModelFiles(dir: string): Promise<string[] | null> {
  let json: string;
  try {
    json = await fsp.readFile(path.join(dir, "model.json"), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  const manifest = (JSON.parse(json) as { weightsManifest?: { paths: string[] }[] }).weightsManifest ?? [];
  const shards = manifest.flatMap((group) => group.paths);
  for (const shard of shards) {
    if (path.basename(shard) !== shard || shard.startsWith(".")) throw new Error(`${dir}/model.json names a weight file outside its folder: ${shard}`);
  }
  return ["model.json", ...shards];
}

// ---- the documents --------------------------------------------------------------------------------

export type ExportLabel = { index: number; classId: number; name: string };

/** Output index i is classIds[i] (the run's class order, fixed when it started). */
export function exportLabels(classIds: readonly number[], names: ReadonlyMap<number, string>): ExportLabel[] {
  return classIds.map((classId, index) => ({ index, classId, name: names.get(classId) ?? `class ${classId} (deleted)` }));
}

/** The pixel scaling x * scale + offset in words: /255 to [0, 1], or x/127.5 - 1 to [-1, 1]. */
function describeScaling(scale: number, offset: number): { step: string; description: string } {
  if (offset === 0 && Math.abs(scale - 1 / 255) < 1e-12) return { step: "divide each 8-bit value by 255: float32 in [0, 1]", description: "divide by 255 to [0,1]" };
  if (offset === -1 && Math.abs(scale - 1 / 127.5) < 1e-12) return { step: "divide each 8-bit value by 127.5 and subtract 1: float32 in [-1, 1]", description: "x/127.5 - 1 to [-1,1]" };
  const lo = offset;
  const hi = 255 * scale + offset;
  return { step: `multiply each 8-bit value by ${scale} and add ${offset}: float32 in [${lo}, ${hi}]`, description: `x * ${scale} + ${offset} to [${lo},${hi}]` };
}

/**
 * How training turned an image into pixels (pixels.ts decodeImage, then data.ts framesToTensor, or
 * a backbone's x * scale + offset), written for someone reproducing it elsewhere.
 */
export function preprocessingSpec(config: Pick<TrainConfig, "inputSize" | "channels" | "backbone" | "backboneMode">) {
  // A backbone run's model takes the backbone's input (e.g. MobileNetV2: 224 px RGB in [-1, 1]).
  // A fine-tuned one rescales inside the model (backbones/finetune.ts), so it takes [0, 1] like a model from scratch.
  const unit = { scale: 1 / 255, offset: 0 };
  const pre = config.backbone
    ? { ...backbonePreprocessing(config.backbone), ...(config.backboneMode === "finetune" ? unit : {}) }
    : { inputSize: config.inputSize, channels: config.channels, ...unit };
  const { inputSize: size, channels, scale, offset } = pre;
  const scaling = describeScaling(scale, offset);
  return {
    size,
    channels,
    inputShape: [null, size, size, channels],
    layout: "NHWC",
    dtype: "float32",
    steps: [
      "decode the image (JPEG, PNG, WebP, GIF first frame, TIFF, AVIF)",
      "apply its EXIF orientation (sharp .rotate()), so it is upright as a viewer shows it",
      `resize to exactly ${size}x${size}, stretching (aspect ratio not kept, nothing cropped): sharp .resize(${size}, ${size}, { fit: "fill" }), libvips lanczos3`,
      "flatten transparency onto white (#ffffff)",
      channels === 1 ? "convert to grayscale (sharp .grayscale(): libvips luminance)" : "convert to sRGB, 3 channels (alpha dropped)",
      `${scaling.step}; no other mean or standard deviation is subtracted`,
    ],
    exifOrientation: "applied",
    resize: { width: size, height: size, fit: "fill", keepAspectRatio: false, crop: false, kernel: "lanczos3", library: "sharp (libvips)" },
    background: "#ffffff",
    colorSpace: channels === 1 ? "grayscale" : "srgb",
    normalization: { description: scaling.description, scale, offset, mean: null, std: null },
    ...(config.backbone ? { backbone: describeBackbone(config.backbone) } : {}),
    output: { kind: "probabilities", activation: "softmax", order: "labels.json index" },
  };
}

export type ExportMetrics = {
  modelVersion: string;
  runId: number;
  mode: string;
  preset: string | null;
  step: number | null;
  /**
   * Accuracy of this (EMA) model on held-out HUMAN labels it never trained on (accepted proposals
   * are never held out); null when it was not measured that way or n < MIN_EVIDENCE_N.
   */
  heldOutAccuracy: number | null;
  /** 95% Wilson interval of heldOutAccuracy. */
  heldOutInterval95: [number, number] | null;
  heldOutCorrect: number | null;
  heldOutImages: number | null;
  /** The figure as the app shows it: "74% [61–84%] (n=40)", "not enough labels (n=3)", or why it is missing. */
  heldOutSummary: string;
  trainLabeledImages: number | null;
  finishedAt: string | null;
  note: string;
};

export function exportMetrics(run: {
  id: number;
  modelVersion: string;
  mode: string;
  finishedAt: number | null;
  config: unknown;
  metrics: unknown;
}): ExportMetrics {
  const m = (run.metrics ?? {}) as StoredRunMetrics;
  const { accuracy, reason } = trainerHeldOutAccuracy(run.metrics);
  const shown = accuracy?.enough ? accuracy : null;
  const request = (run.config as { request?: { preset?: string } } | null)?.request;
  return {
    modelVersion: run.modelVersion,
    runId: run.id,
    mode: run.mode,
    preset: request?.preset ?? null,
    step: m.step ?? null,
    heldOutAccuracy: shown?.value ?? null,
    heldOutInterval95: shown?.interval ?? null,
    heldOutCorrect: accuracy?.k ?? null,
    heldOutImages: accuracy?.n ?? null,
    heldOutSummary: accuracy ? formatProportion(accuracy) : `held-out accuracy ${reason}`,
    trainLabeledImages: m.trainLabeled ?? null,
    finishedAt: run.finishedAt === null ? null : new Date(run.finishedAt).toISOString(),
    note: `About 20% of each class's HUMAN labels were held out of training (chosen by a stable hash of the image id; imported labels and accepted proposals always train); heldOutAccuracy is this model's accuracy on them at the end of training, with a 95% Wilson interval, and null below ${MIN_EVIDENCE_N} labels.`,
  };
}

/**
 * The Node snippet of the README, word for word: the round-trip test (export.test.ts) runs this
 * very text in a fresh Node process, so the README cannot drift from what works.
 */
export const NODE_SNIPPET = String.raw`// predict.cjs: save next to model.json, then: node predict.cjs photo.jpg [more.png ...]
// npm install @tensorflow/tfjs-core @tensorflow/tfjs-layers @tensorflow/tfjs-backend-cpu sharp
// (@tensorflow/tfjs-node is faster: then tf.loadLayersModel("file://" + path.join(dir, "model.json"))).
const fs = require("node:fs");
const path = require("node:path");
const tf = require("@tensorflow/tfjs-core");
const { loadLayersModel } = require("@tensorflow/tfjs-layers");
require("@tensorflow/tfjs-backend-cpu");
const sharp = require("sharp");

const dir = __dirname;
const readJson = (name) => JSON.parse(fs.readFileSync(path.join(dir, name), "utf8"));
const pre = readJson("preprocessing.json");
const labels = readJson("labels.json");

/** model.json + its weight shards, without a file:// handler (plain tfjs has none in Node). */
async function loadModel() {
  const json = readJson("model.json");
  const weights = Buffer.concat(json.weightsManifest.flatMap((g) => g.paths).map((p) => fs.readFileSync(path.join(dir, p))));
  return loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.length),
    }),
  );
}

/** preprocessing.json: EXIF rotate, stretch to size x size, white background, gray or sRGB, x * scale + offset. */
async function toInput(file) {
  let image = sharp(file).rotate().resize(pre.size, pre.size, { fit: "fill" }).flatten({ background: pre.background });
  image = pre.channels === 1 ? image.grayscale() : image.toColourspace("srgb");
  const pixels = await image.raw().toBuffer();
  const { scale, offset } = pre.normalization;
  return tf.tensor4d(Float32Array.from(pixels, (v) => v * scale + offset), [1, pre.size, pre.size, pre.channels]);
}

(async () => {
  const model = await loadModel();
  for (const file of process.argv.slice(2)) {
    const input = await toInput(file);
    const probs = Array.from(await model.predict(input).data()); // the model ends in a softmax
    input.dispose();
    const ranked = labels.map((l) => ({ name: l.name, p: probs[l.index] })).sort((a, b) => b.p - a.p);
    console.log(JSON.stringify({ file, predicted: ranked[0].name, probs, ranked }));
  }
})();
`;

export const BROWSER_SNIPPET = String.raw`<!-- Serve this folder over HTTP (e.g. npx serve .) and open the page. -->
<input type="file" accept="image/*" id="file" />
<pre id="out"></pre>
<script src="https://cdn.jsdelivr.net/npm/@tensorflow/tfjs@4.22.0/dist/tf.min.js"></script>
<script type="module">
  const [model, labels, pre] = await Promise.all([
    tf.loadLayersModel("model.json"),
    fetch("labels.json").then((r) => r.json()),
    fetch("preprocessing.json").then((r) => r.json()),
  ]);
  document.getElementById("file").onchange = async (e) => {
    // EXIF orientation applied, then stretched to size x size on a white background.
    const bitmap = await createImageBitmap(e.target.files[0], { imageOrientation: "from-image" });
    const canvas = new OffscreenCanvas(pre.size, pre.size);
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = pre.background;
    ctx.fillRect(0, 0, pre.size, pre.size);
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(bitmap, 0, 0, pre.size, pre.size);
    const probs = tf.tidy(() => {
      let x = tf.browser.fromPixels(ctx.getImageData(0, 0, pre.size, pre.size), 3).toFloat();
      if (pre.channels === 1) x = x.mul([0.2126, 0.7152, 0.0722]).sum(-1, true);
      return model.predict(x.mul(pre.normalization.scale).add(pre.normalization.offset).expandDims(0)).dataSync();
    });
    const ranked = labels.map((l) => ({ name: l.name, p: probs[l.index] })).sort((a, b) => b.p - a.p);
    document.getElementById("out").textContent = ranked.map((r) => r.name + "  " + (100 * r.p).toFixed(1) + "%").join("\n");
  };
</script>`;

export function modelReadme(opts: { projectName: string; metrics: ExportMetrics; labels: readonly ExportLabel[]; preprocessing: ReturnType<typeof preprocessingSpec> }): string {
  const { metrics, labels, preprocessing } = opts;
  const acc = `${metrics.heldOutSummary}, on held-out human labels it did not train on`;
  return [
    `# ${opts.projectName}: model ${metrics.modelVersion}`,
    "",
    `An image classifier trained by FixLabel (${metrics.mode}${metrics.preset ? `, preset ${metrics.preset}` : ""}, ${metrics.step ?? "?"} steps).`,
    `Held-out accuracy: ${acc}. Classes (output index: name): ${labels.map((l) => `${l.index}: ${l.name}`).join(", ")}.`,
    "",
    "## Files",
    "- `model.json` + `group1-shard*.bin`: a TensorFlow.js layers model (the EMA weights the app predicts with).",
    `  Input: float32 NHWC \`[batch, ${preprocessing.size}, ${preprocessing.size}, ${preprocessing.channels}]\`. Output: \`[batch, ${labels.length}]\` probabilities (softmax included).`,
    "- `labels.json`: output index -> class id and name.",
    "- `preprocessing.json`: how an image becomes the input, exactly as training did it:",
    ...preprocessing.steps.map((s, i) => `  ${i + 1}. ${s}`),
    "- `metrics.json`: held-out figures of this model version.",
    "",
    "Predictions match the app's to about 1e-5 when images are preprocessed with sharp as below. A browser's",
    "canvas resizes with its own filter (and computes gray its own way), so its probabilities are close, not identical.",
    "",
    "Other formats: `tensorflowjs_converter --input_format=tfjs_layers_model --output_format=keras model.json model.h5`",
    "(Python `tensorflowjs` package) gives a Keras model, and from there ONNX (tf2onnx) or TFLite.",
    "",
    "## Node",
    "```js",
    NODE_SNIPPET.trimEnd(),
    "```",
    "",
    "## Browser",
    "```html",
    BROWSER_SNIPPET,
    "```",
    "",
  ].join("\n");
}

// ---- the zip ----------------------------------------------------------------------------------------

export type ModelZipContents = {
  /** The run's export folder and its files (readModelFiles). */
  dir: string;
  files: readonly string[];
  labels: ExportLabel[];
  preprocessing: ReturnType<typeof preprocessingSpec>;
  metrics: ExportMetrics;
  readme: string;
};

/** The zip, streamed: yazl reads the weight shards from disk as the download reaches them. */
export function streamModelZip(contents: ModelZipContents, exportedAt = new Date()): Readable {
  const zip = new ZipFile();
  const mtime = exportedAt;
  const json = (value: unknown) => Buffer.from(`${JSON.stringify(value, null, 2)}\n`, "utf8");
  zip.addBuffer(Buffer.from(contents.readme, "utf8"), "README.md", { mtime });
  zip.addBuffer(json(contents.labels), "labels.json", { mtime });
  zip.addBuffer(json(contents.preprocessing), "preprocessing.json", { mtime });
  zip.addBuffer(json(contents.metrics), "metrics.json", { mtime });
  for (const name of contents.files) {
    const file = path.join(contents.dir, name);
    // Float weights barely deflate; the JSON does.
    zip.addReadStreamLazy(name, { mtime, compress: name.endsWith(".json") }, (cb) => cb(null, fs.createReadStream(file)));
  }
  zip.end();
  return zip.outputStream as Readable;
}
