/**
 * FixMatch vs supervised-only on Fashion-MNIST with 4 labels per class (40 labels), on this
 * machine's tfjs backend, under the same wall-clock budget per run. Prints each run, then the
 * median test accuracy (all 10,000 test images, EMA model) per mode.
 *
 *   npx tsx bench/fashion-mnist.ts [--minutes 20] [--seeds 3] [--unlabeled 10000] [--preset quick-cpu]
 *     [--mode both|fixmatch|supervised] [--set key=value,...] [--verbose] [--data DIR]
 *
 * `--set` overrides the preset's fields (numbers, true/false, or model.width=8 style for the
 * model); `--mode` runs one side only, so the two sides can run as two processes at once, one per
 * core, under the same load.
 *
 * Data: `--data DIR` with the four {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz files, default the
 * Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/*.gz, MIT).
 * Per seed: 4 training images per class drawn with that seed are the labels; the unlabeled pool is
 * `--unlabeled` other training images (their labels unused) plus the 40 labeled ones, as in the
 * paper. No held-out split: all 40 labels train; the test set is the evaluation.
 * Budget: a 5-step probe measures the mode's steps/s, which sets the run's total steps K (the
 * cosine schedule needs K); the run also stops when the budget runs out.
 * The split, the runs and the report are bench/ssl-compare.ts, shared with bench/cifar10-small.ts.
 */
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { datasetDir } from "./datasets";
import { runSslBenchMain, type LabeledImages } from "./ssl-compare";

const SIZE = 28;

function readIdx(dir: string, name: string): { data: Uint8Array; count: number } {
  const bytes = zlib.gunzipSync(fs.readFileSync(path.join(dir, name)));
  const dims = bytes[3];
  const count = bytes.readUInt32BE(4);
  return { data: new Uint8Array(bytes.buffer, bytes.byteOffset + 4 + 4 * dims, bytes.length - 4 - 4 * dims), count };
}

function readSplit(dir: string, prefix: "train" | "t10k"): LabeledImages {
  const images = readIdx(dir, `${prefix}-images-idx3-ubyte.gz`);
  const labels = readIdx(dir, `${prefix}-labels-idx1-ubyte.gz`);
  if (labels.count !== images.count) throw new Error(`${prefix}: ${images.count} images but ${labels.count} labels`);
  return { cache: { size: SIZE, channels: 1, pixels: images.data }, labels: labels.data };
}

runSslBenchMain({
  script: "bench/fashion-mnist.ts",
  defaults: { minutes: "20", seeds: "3", unlabeled: "10000", preset: "quick-cpu" },
  load: (data) => {
    const dir = datasetDir("fashion-mnist", data);
    return { name: "Fashion-MNIST", numClasses: 10, train: readSplit(dir, "train"), test: readSplit(dir, "t10k") };
  },
});
