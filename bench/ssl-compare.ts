/**
 * The shared part of the FixMatch vs supervised-only benchmarks (bench/fashion-mnist.ts,
 * bench/cifar10-small.ts): a dataset script loads its images into pixel caches and calls
 * `runSslBench`, which parses the common flags, draws 4 labels per class per seed, trains each
 * mode under the same wall-clock budget and prints each run, the median test accuracy per mode, a
 * machine line and a `reproduce:` line.
 *
 * Flags: --minutes --seeds --unlabeled --preset (defaults from the dataset script; --seeds 3 means
 * seeds 1 to 3, --seeds 2,3 exactly those, so one seed's runs can be added later or elsewhere),
 * --mode both|fixmatch|supervised, --set key=value,... (preset overrides: numbers, true/false, or
 * model.width=8 style for the model), --verbose (the trainer's progress lines), --curve N (test
 * accuracy of the EMA model on the first 1,000 test images every N steps, a learning curve).
 *
 * Per seed: 4 training images per class drawn with that seed are the labels; the unlabeled pool is
 * `--unlabeled` other training images (as many as there are, if fewer; their labels unused) plus
 * the labeled ones, as in the paper. No held-out split: all labels train; the test set is the
 * evaluation. Budget: the trainer's timeBudgetS: the run ends when its training time reaches the
 * budget, and the cosine learning-rate schedule runs over that time (not over a step count
 * guessed in advance: a FixMatch step costs more as more pseudo-labels pass the threshold).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { initBackend } from "../lib/ml/backend";
import type { LabeledExample } from "../lib/ml/data";
import { loadTrainedModel, predictProbs } from "../lib/ml/infer";
import { PRESETS, type PresetName } from "../lib/ml/presets";
import { Rng } from "../lib/ml/rng";
import { train, type TrainData, type TrainProgress } from "../lib/ml/train";
import { DEFAULT_TRAIN_CONFIG, type TrainConfig, type TrainMode } from "../lib/ml/config";

export const LABELS_PER_CLASS = 4;

export type Cache = TrainData["cache"] & { channels: 1 | 3 };

/** Frames of a pixel cache and the class index of each frame. */
export type LabeledImages = { cache: Cache; labels: Uint8Array };

export type SslDataset = {
  /** Used in the summary line, e.g. "Fashion-MNIST". */
  name: string;
  numClasses: number;
  train: LabeledImages;
  test: LabeledImages;
};

export type SslBenchSpec = {
  /** The script's path from the repository root, for the `reproduce:` line. */
  script: string;
  defaults: { minutes: string; seeds: string; unlabeled: string; preset: string };
  /** Called once, after the flags are parsed and the backend is up, with `--data DIR` if given. */
  load: (data: string | undefined) => SslDataset | Promise<SslDataset>;
};

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * The labels and the unlabeled pool for one seed, as frames of the training images: a seeded
 * Fisher-Yates shuffle of all frames, then the first LABELS_PER_CLASS of each class in that order
 * are labeled and the next `unlabeledCount` others join them in the pool.
 */
export function sampleSplit(trainLabels: Uint8Array, numClasses: number, seed: number, unlabeledCount: number): Pick<TrainData, "labeled" | "unlabeled"> {
  const rng = new Rng(seed);
  const order = Array.from(trainLabels.keys());
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const labeled: LabeledExample[] = [];
  const perClass = new Array<number>(numClasses).fill(0);
  const rest: number[] = [];
  for (const frame of order) {
    const c = trainLabels[frame];
    if (perClass[c] < LABELS_PER_CLASS) {
      perClass[c]++;
      labeled.push({ imageId: frame, frame, classIndex: c });
    } else rest.push(frame);
  }
  return { labeled, unlabeled: [...labeled.map((e) => e.frame), ...rest.slice(0, unlabeledCount)] };
}

/** "mu=2,threshold=0.9,model.width=8,pseudoLabelFirst=true" -> config fields. */
export function parseOverrides(spec: string): Omit<Partial<TrainConfig>, "model"> & { model?: Record<string, number> } {
  const out: Record<string, unknown> & { model?: Record<string, number> } = {};
  for (const pair of spec.split(",").filter(Boolean)) {
    const [key, raw] = pair.split("=");
    const value = raw === "true" ? true : raw === "false" ? false : Number(raw);
    if (typeof value === "number" && Number.isNaN(value)) throw new Error(`--set ${pair}: not a number or true/false`);
    if (key.startsWith("model.")) out.model = { ...out.model, [key.slice(6)]: value as number };
    else if (key in DEFAULT_TRAIN_CONFIG || key === "pseudoLabelFirst") out[key] = value;
    else throw new Error(`--set ${pair}: no config field ${key}`);
  }
  return out;
}

/** Share of `images` whose highest-probability class is their label. */
function testAccuracy(model: Awaited<ReturnType<typeof loadTrainedModel>>["model"], images: LabeledImages, numClasses: number): number {
  const frames = Array.from(images.labels.keys());
  const probs = predictProbs(model, images.cache, frames);
  let right = 0;
  for (let i = 0; i < frames.length; i++) {
    const row = probs.subarray(i * numClasses, (i + 1) * numClasses);
    if (row.indexOf(Math.max(...row)) === images.labels[i]) right++;
  }
  return right / frames.length;
}

/** Up to this many test images are evaluated every `--curve N` steps (all of them at the end). */
const CURVE_TEST_IMAGES = 1000;

/**
 * The training data with the first test images appended to the pixel cache as held-out labels:
 * the trainer evaluates its EMA model on them every evalEvery steps. They are not in the
 * unlabeled pool, so no test image is trained on.
 */
function withTestCurve(dataset: SslDataset, split: Pick<TrainData, "labeled" | "unlabeled">): TrainData {
  const { train: trainSet, test } = dataset;
  const frameSize = trainSet.cache.size * trainSet.cache.size * trainSet.cache.channels;
  const count = Math.min(CURVE_TEST_IMAGES, test.labels.length);
  const pixels = new Uint8Array((trainSet.labels.length + count) * frameSize);
  pixels.set(trainSet.cache.pixels.subarray(0, trainSet.labels.length * frameSize));
  pixels.set(test.cache.pixels.subarray(0, count * frameSize), trainSet.labels.length * frameSize);
  const heldOut = Array.from({ length: count }, (_, i) => ({ imageId: -1 - i, frame: trainSet.labels.length + i, classIndex: test.labels[i] }));
  return { cache: { ...trainSet.cache, pixels }, heldOut, ...split };
}

export async function runSslBench(spec: SslBenchSpec): Promise<void> {
  const { values } = parseArgs({
    options: {
      minutes: { type: "string", default: spec.defaults.minutes },
      seeds: { type: "string", default: spec.defaults.seeds },
      unlabeled: { type: "string", default: spec.defaults.unlabeled },
      preset: { type: "string", default: spec.defaults.preset },
      mode: { type: "string", default: "both" },
      set: { type: "string", default: "" },
      verbose: { type: "boolean", default: false },
      curve: { type: "string", default: "0" },
      data: { type: "string" },
    },
  });
  const budgetS = Number(values.minutes) * 60;
  const seedList = values.seeds!.includes(",") ? values.seeds!.split(",").filter(Boolean).map(Number) : Array.from({ length: Number(values.seeds) }, (_, i) => i + 1);
  if (seedList.length === 0 || seedList.some((s) => !Number.isInteger(s) || s < 0)) throw new Error(`--seeds ${values.seeds}: a count, or a list like 2,3`);
  const preset = PRESETS[values.preset as PresetName];
  if (!preset) throw new Error(`unknown preset ${values.preset}`);
  const overrides = parseOverrides(values.set!);
  if (!["both", "fixmatch", "supervised"].includes(values.mode!)) throw new Error(`--mode ${values.mode}: expected both, fixmatch or supervised`);
  const modes: TrainMode[] = values.mode === "both" ? ["fixmatch", "supervised"] : [values.mode as TrainMode];
  const backend = await initBackend({ log: () => {} });

  const dataset = await spec.load(values.data);
  const { numClasses } = dataset;
  const { size, channels } = dataset.train.cache;
  console.log(`data: ${dataset.train.labels.length} training images, ${dataset.test.labels.length} test images, ${numClasses} classes, ${size}x${size}x${channels}`);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-bench-"));

  const results: Record<TrainMode, { accuracy: number; steps: number }[]> = { fixmatch: [], supervised: [] };
  for (const seed of seedList) {
    const split = sampleSplit(dataset.train.labels, numClasses, seed, Number(values.unlabeled));
    console.log(`seed ${seed} split: ${split.labeled.length} labels, unlabeled pool ${split.unlabeled.length} (the labeled included)`);
    const curveEvery = Number(values.curve);
    const data: TrainData = curveEvery > 0 ? withTestCurve(dataset, split) : { cache: dataset.train.cache, heldOut: [], ...split };
    for (const mode of modes) {
      const base: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, ...preset, ...overrides, model: { ...preset.model, ...overrides.model } as TrainConfig["model"], inputSize: size, channels, numClasses, mode, seed, logEvery: 50, evalEvery: curveEvery || Number.MAX_SAFE_INTEGER, checkpointEvery: Number.MAX_SAFE_INTEGER };
      // The budget ends the run and drives the cosine schedule (TrainConfig.timeBudgetS); time
      // spent evaluating the curve is not training time and does not count.
      const steps = overrides.steps ?? 2 ** 30;

      const runDir = path.join(workDir, `run-${seed}-${mode}`);
      const started = performance.now();
      const onProgress = (p: TrainProgress) => {
        const curve = p.heldOutAcc !== null ? ` test(${data.heldOut.length}) ${(100 * p.heldOutAcc).toFixed(1)}%` : "";
        if (values.verbose || curve) console.log(`  ${mode} step ${p.step} lr ${p.lr.toFixed(4)} sup ${p.lossSup.toFixed(3)} unsup ${p.lossUnsup?.toFixed(3) ?? "-"} mask ${p.maskRate?.toFixed(2) ?? "-"} ${p.imagesPerS.toFixed(0)} img/s${curve}`);
      };
      const result = await train({ config: { ...base, steps, timeBudgetS: budgetS }, data, runDir, onProgress });
      const trainS = (performance.now() - started) / 1000;
      const { model } = await loadTrainedModel(runDir);
      const accuracy = testAccuracy(model, dataset.test, numClasses);
      model.dispose();
      results[mode].push({ accuracy, steps: result.step });
      console.log(`seed ${seed} ${mode.padEnd(10)} test accuracy ${(100 * accuracy).toFixed(2)}%  steps ${result.step}  (${trainS.toFixed(0)} s with evaluations)`);
    }
  }
  fs.rmSync(workDir, { recursive: true, force: true });

  const cpus = os.cpus();
  console.log(`\n${dataset.name}, ${LABELS_PER_CLASS} labels/class, ${values.unlabeled} unlabeled, ${values.minutes} min per run, seed(s) ${seedList.join(",")}, preset ${values.preset}${values.set ? ` with ${values.set}` : ""} at ${size}px`);
  console.log(`machine: ${cpus.length} x ${cpus[0]?.model.trim()}, backend ${backend.name} (${backend.reason})`);
  for (const mode of modes) {
    const r = results[mode];
    console.log(`${mode.padEnd(10)} median test accuracy ${(100 * median(r.map((x) => x.accuracy))).toFixed(2)}%  median steps ${median(r.map((x) => x.steps))}`);
  }
  const curveFlag = Number(values.curve) > 0 ? ` --curve ${values.curve}` : "";
  const extra = `${values.data ? ` --data ${values.data}` : ""}${values.mode === "both" ? "" : ` --mode ${values.mode}`}${values.set ? ` --set ${values.set}` : ""}${curveFlag}`;
  console.log(`reproduce: npx tsx ${spec.script} --minutes ${values.minutes} --seeds ${values.seeds} --unlabeled ${values.unlabeled} --preset ${values.preset}${extra}`);
}

/** Runs the benchmark as a script's main, exiting 1 on an error. */
export function runSslBenchMain(spec: SslBenchSpec): void {
  runSslBench(spec).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
