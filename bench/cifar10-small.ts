/**
 * FixMatch vs supervised-only on a small CIFAR-10 (5,000 training and 1,000 test images) with 4
 * labels per class (40 labels), on this machine's tfjs backend, under the same wall-clock budget
 * per run. Prints each run, then the median test accuracy (all test images, EMA model) per mode.
 *
 *   npx tsx bench/cifar10-small.ts [--minutes 20] [--seeds 3] [--unlabeled 5000] [--preset quick-cpu]
 *     [--mode both|fixmatch|supervised] [--set key=value,...] [--verbose] [--data DIR]
 *
 * `--set` overrides the preset's fields (numbers, true/false, or model.width=8 style for the
 * model); `--mode` runs one side only, so the two sides can run as two processes at once, one per
 * core, under the same load.
 *
 * Data: `--data DIR`, default ../shared/datasets/cifar10-small where it exists (how to make it:
 * bench/make-cifar10-small.ts, README "Benchmark datasets"): {train,test}/<class>/NNNN.jpg, 500
 * training and 100 test 32x32 RGB JPEGs per class from the original CIFAR-10 (Krizhevsky, 2009);
 * classes are the folder names sorted by name. Each JPEG is decoded once with sharp (the app's
 * decodeImage, so the same pixels training in the app sees) into raw RGB uint8 pixel caches.
 * Per seed: 4 training images per class drawn with that seed are the labels; the unlabeled pool is
 * `--unlabeled` other training images (all 4,960 there are, if fewer; their labels unused) plus
 * the 40 labeled ones, as in the paper, so the default pool is all 5,000. No held-out split: all
 * 40 labels train; the test set is the evaluation.
 * Budget: a 5-step probe measures the mode's steps/s, which sets the run's total steps K (the
 * cosine schedule needs K); the run also stops when the budget runs out.
 * The split, the runs and the report are bench/ssl-compare.ts, shared with bench/fashion-mnist.ts.
 */
import fs from "node:fs";
import path from "node:path";
import { decodeImage } from "../lib/ml/pixels";
import { datasetDir } from "./datasets";
import { runSslBenchMain, type LabeledImages } from "./ssl-compare";

const SIZE = 32;
const CHANNELS = 3;
/** JPEGs decoded at once. */
const DECODE_CONCURRENCY = 8;

function subdirs(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

/** All `<dir>/<class>/*.jpg`, files sorted by name within each class, decoded into one cache. */
async function readSplit(dir: string, classes: string[]): Promise<LabeledImages> {
  const files: { file: string; classIndex: number }[] = [];
  classes.forEach((name, classIndex) => {
    for (const f of fs.readdirSync(path.join(dir, name)).filter((f) => /\.jpe?g$/i.test(f)).sort()) files.push({ file: path.join(dir, name, f), classIndex });
  });
  const frameBytes = SIZE * SIZE * CHANNELS;
  const pixels = new Uint8Array(files.length * frameBytes);
  const labels = new Uint8Array(files.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < files.length; i = next++) {
      pixels.set(await decodeImage(files[i].file, SIZE, CHANNELS), i * frameBytes);
      labels[i] = files[i].classIndex;
    }
  };
  await Promise.all(Array.from({ length: DECODE_CONCURRENCY }, worker));
  return { cache: { size: SIZE, channels: CHANNELS, pixels }, labels };
}

async function load(data: string | undefined) {
  const dir = datasetDir("cifar10-small", data);
  const trainDir = path.join(dir, "train");
  const testDir = path.join(dir, "test");
  const classes = subdirs(trainDir);
  const testClasses = subdirs(testDir);
  if (classes.join() !== testClasses.join()) throw new Error(`train classes ${classes.join()} differ from test classes ${testClasses.join()}`);
  const started = performance.now();
  const train = await readSplit(trainDir, classes);
  const test = await readSplit(testDir, classes);
  console.log(`decoded ${train.labels.length + test.labels.length} JPEGs in ${((performance.now() - started) / 1000).toFixed(1)} s; classes ${classes.join(", ")}`);
  return { name: "CIFAR-10 (cifar10-small)", numClasses: classes.length, train, test };
}

runSslBenchMain({
  script: "bench/cifar10-small.ts",
  defaults: { minutes: "20", seeds: "3", unlabeled: "5000", preset: "quick-cpu" },
  load,
});
