/**
 * FixMatch vs supervised-only on Fashion-MNIST with 4 labels per class (40 labels), on this
 * machine's tfjs backend, under the same wall-clock budget per run. Prints each run, then the
 * median test accuracy (all 10,000 test images, EMA model) per mode.
 *
 *   npx tsx bench/fashion-mnist.ts [--minutes 20] [--seeds 3] [--unlabeled 10000] [--preset quick-cpu]
 *     [--mode both|fixmatch|supervised] [--set key=value,...] [--verbose]
 *
 * `--set` overrides the preset's fields (numbers, true/false, or model.width=8 style for the
 * model); `--mode` runs one side only, so the two sides can run as two processes at once, one per
 * core, under the same load.
 *
 * Data: the Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/*.gz, MIT).
 * Per seed: 4 training images per class drawn with that seed are the labels; the unlabeled pool is
 * `--unlabeled` other training images (their labels unused) plus the 40 labeled ones, as in the
 * paper. No held-out split: all 40 labels train; the test set is the evaluation.
 * Budget: a 5-step probe measures the mode's steps/s, which sets the run's total steps K (the
 * cosine schedule needs K); the run also stops when the budget runs out.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import zlib from "node:zlib";
import { initBackend } from "../lib/ml/backend";
import type { LabeledExample } from "../lib/ml/data";
import { loadTrainedModel, predictProbs } from "../lib/ml/infer";
import { PRESETS, type PresetName } from "../lib/ml/presets";
import { Rng } from "../lib/ml/rng";
import { DEFAULT_TRAIN_CONFIG, train, type TrainConfig, type TrainData, type TrainMode, type TrainProgress } from "../lib/ml/train";

const DATA_DIR = "/usr/share/datasets/fashion-mnist";
const SIZE = 28;
const CLASSES = 10;
const LABELS_PER_CLASS = 4;
const PROBE_STEPS = 5;

function readIdx(name: string): { data: Uint8Array; count: number } {
  const bytes = zlib.gunzipSync(fs.readFileSync(path.join(DATA_DIR, name)));
  const dims = bytes[3];
  const count = bytes.readUInt32BE(4);
  return { data: new Uint8Array(bytes.buffer, bytes.byteOffset + 4 + 4 * dims, bytes.length - 4 - 4 * dims), count };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** 40 labels and the unlabeled pool for one seed, as frames of the training images. */
function sampleSplit(trainLabels: Uint8Array, seed: number, unlabeledCount: number): Pick<TrainData, "labeled" | "unlabeled"> {
  const rng = new Rng(seed);
  const order = Array.from(trainLabels.keys());
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const labeled: LabeledExample[] = [];
  const perClass = new Array<number>(CLASSES).fill(0);
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
function parseOverrides(spec: string): Omit<Partial<TrainConfig>, "model"> & { model?: Record<string, number> } {
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

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      minutes: { type: "string", default: "20" },
      seeds: { type: "string", default: "3" },
      unlabeled: { type: "string", default: "10000" },
      preset: { type: "string", default: "quick-cpu" },
      mode: { type: "string", default: "both" },
      set: { type: "string", default: "" },
      verbose: { type: "boolean", default: false },
    },
  });
  const budgetS = Number(values.minutes) * 60;
  const seeds = Number(values.seeds);
  const preset = PRESETS[values.preset as PresetName];
  if (!preset) throw new Error(`unknown preset ${values.preset}`);
  const overrides = parseOverrides(values.set!);
  const modes: TrainMode[] = values.mode === "both" ? ["fixmatch", "supervised"] : [values.mode as TrainMode];
  const backend = await initBackend({ log: () => {} });

  const trainImages = readIdx("train-images-idx3-ubyte.gz").data;
  const trainLabels = readIdx("train-labels-idx1-ubyte.gz").data;
  const testImages = readIdx("t10k-images-idx3-ubyte.gz");
  const testLabels = readIdx("t10k-labels-idx1-ubyte.gz").data;
  const trainCache = { size: SIZE, channels: 1, pixels: trainImages };
  const testCache = { size: SIZE, channels: 1, pixels: testImages.data };
  const testFrames = Array.from({ length: testImages.count }, (_, i) => i);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-bench-"));

  const results: Record<TrainMode, { accuracy: number; steps: number }[]> = { fixmatch: [], supervised: [] };
  for (let seed = 1; seed <= seeds; seed++) {
    const split = sampleSplit(trainLabels, seed, Number(values.unlabeled));
    const data: TrainData = { cache: trainCache, heldOut: [], ...split };
    for (const mode of modes) {
      const base: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, ...preset, ...overrides, model: { ...preset.model, ...overrides.model } as TrainConfig["model"], inputSize: SIZE, channels: 1, numClasses: CLASSES, mode, seed, logEvery: 50, evalEvery: Number.MAX_SAFE_INTEGER, checkpointEvery: Number.MAX_SAFE_INTEGER };
      const probeStart = performance.now();
      await train({ config: { ...base, steps: PROBE_STEPS }, data, runDir: path.join(workDir, `probe-${seed}-${mode}`) });
      const stepsPerS = PROBE_STEPS / ((performance.now() - probeStart) / 1000);
      const steps = Math.max(1, Math.floor(stepsPerS * budgetS));

      const runDir = path.join(workDir, `run-${seed}-${mode}`);
      const started = performance.now();
      const onProgress = values.verbose ? (p: TrainProgress) => console.log(`  ${mode} step ${p.step} lr ${p.lr.toFixed(4)} sup ${p.lossSup.toFixed(3)} unsup ${p.lossUnsup?.toFixed(3) ?? "-"} mask ${p.maskRate?.toFixed(2) ?? "-"} ${p.imagesPerS.toFixed(0)} img/s`) : undefined;
      const result = await train({ config: { ...base, steps }, data, runDir, onProgress, shouldStop: () => (performance.now() - started) / 1000 > budgetS });
      const trainS = (performance.now() - started) / 1000;
      const { model } = await loadTrainedModel(runDir);
      const probs = predictProbs(model, testCache, testFrames);
      model.dispose();
      let right = 0;
      for (let i = 0; i < testFrames.length; i++) {
        const row = probs.subarray(i * CLASSES, (i + 1) * CLASSES);
        if (row.indexOf(Math.max(...row)) === testLabels[i]) right++;
      }
      const accuracy = right / testFrames.length;
      results[mode].push({ accuracy, steps: result.step });
      console.log(`seed ${seed} ${mode.padEnd(10)} test accuracy ${(100 * accuracy).toFixed(2)}%  steps ${result.step}/${steps}  (trained ${trainS.toFixed(0)} s)`);
    }
  }
  fs.rmSync(workDir, { recursive: true, force: true });

  const cpus = os.cpus();
  console.log(`\nFashion-MNIST, ${LABELS_PER_CLASS} labels/class, ${values.unlabeled} unlabeled, ${values.minutes} min per run, ${seeds} seed(s), preset ${values.preset}${values.set ? ` with ${values.set}` : ""} at ${SIZE}px`);
  console.log(`machine: ${cpus.length} x ${cpus[0]?.model.trim()}, backend ${backend.name} (${backend.reason})`);
  for (const mode of modes) {
    const r = results[mode];
    console.log(`${mode.padEnd(10)} median test accuracy ${(100 * median(r.map((x) => x.accuracy))).toFixed(2)}%  median steps ${median(r.map((x) => x.steps))}`);
  }
  const extra = `${values.mode === "both" ? "" : ` --mode ${values.mode}`}${values.set ? ` --set ${values.set}` : ""}`;
  console.log(`reproduce: npx tsx bench/fashion-mnist.ts --minutes ${values.minutes} --seeds ${seeds} --unlabeled ${values.unlabeled} --preset ${values.preset}${extra}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
