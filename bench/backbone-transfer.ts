/**
 * A real transfer measurement on this machine (issue 12): "your own backbone" made here.
 *
 *   npx tsx bench/backbone-transfer.ts [--data DIR] [--seeds 5] [--minutes 3] [--pretrain-minutes 5]
 *     [--pretrain-batch 64] [--views 4] [--hidden 0] [--threshold 0.95] [--da true] [--backbone-dir DIR]
 *     [--skip-scratch] [--head-steps N]
 *
 * 1. Train the project's CNN (quick-cpu's ResNet, 32 px) supervised on CIFAR-10-small classes 0-4,
 *    all 2,500 of their training labels, for --pretrain-minutes; save it as a tfjs layers model.
 *    (--backbone-dir: where; an existing model.json there is reused, so reruns skip this.)
 * 2. Load it through lib/ml/backbones as "your own backbone", cut at its global-average-pooling
 *    layer, and cache the plain and --views weak + strong view features of the 2,500 training
 *    images of classes 5-9 (the pool).
 * 3. Per seed, 4 labels per class of classes 5-9, and on the same pool:
 *    - linear probe and cosine nearest class mean on the plain features,
 *    - the FixMatch head on the cached views (budget: --minutes minus the feature time),
 *    - FixMatch from scratch (quick-cpu, the app's default image run) for --minutes;
 *    printed: accuracy on the pool's unlabeled images, proposals with confidence >= tau and how
 *    many of those are right.
 * No held-out split: the 20 labels all train and the pool's true labels are the evaluation (in the
 * app, the choice between heads is made on held-out human labels instead).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_POLICY } from "../lib/ml/augment";
import { initBackend } from "../lib/ml/backend";
import { loadBackbone } from "../lib/ml/backbones";
import type { BackboneRef } from "../lib/ml/backbones/types";
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from "../lib/ml/config";
import { loadTrainedModel, predictProbs } from "../lib/ml/infer";
import { saveLayersModel } from "../lib/ml/model-files";
import { decodeImage } from "../lib/ml/pixels";
import { PRESETS } from "../lib/ml/presets";
import { train } from "../lib/ml/train";
import { drawLabels, formatScore, framesAsImages, median, poolFeatures, scoreHeads, scorePool, type PoolScore } from "./backbone-common";

const { values } = parseArgs({
  options: {
    data: { type: "string" },
    seeds: { type: "string", default: "5" },
    minutes: { type: "string", default: "3" },
    "pretrain-minutes": { type: "string", default: "5" },
    "pretrain-batch": { type: "string", default: "64" },
    views: { type: "string", default: "4" },
    hidden: { type: "string", default: "0" },
    threshold: { type: "string", default: "0.95" },
    da: { type: "string", default: "true" },
    "backbone-dir": { type: "string" },
    "skip-scratch": { type: "boolean", default: false },
    /** A fixed number of head steps instead of the time budget (ablations: results independent of machine load). */
    "head-steps": { type: "string" },
  },
});

const SIZE = 32;
const FRAME = SIZE * SIZE * 3;
const defaultData = path.resolve(import.meta.dirname, "../../shared/datasets/cifar10-small");
const dataDir = values.data ?? defaultData;
if (!fs.existsSync(path.join(dataDir, "train"))) throw new Error(`no ${dataDir}/train: pass --data <cifar10-small folder> ({train,test}/<class>/*.jpg)`);
const seeds = Array.from({ length: Number(values.seeds) }, (_, i) => i + 1);
const budgetS = Number(values.minutes) * 60;
const tau = Number(values.threshold);
const k = Number(values.views);

async function readClasses(split: string, classes: string[]): Promise<{ pixels: Uint8Array; labels: Uint8Array }> {
  const files: { file: string; label: number }[] = [];
  classes.forEach((name, label) => {
    for (const f of fs.readdirSync(path.join(dataDir, split, name)).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort()) files.push({ file: path.join(dataDir, split, name, f), label });
  });
  const pixels = new Uint8Array(files.length * FRAME);
  const labels = new Uint8Array(files.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = next++; i < files.length; i = next++) {
        pixels.set(await decodeImage(files[i].file, SIZE, 3), i * FRAME);
        labels[i] = files[i].label;
      }
    }),
  );
  return { pixels, labels };
}

async function main() {
  const backend = await initBackend({ log: () => {} });
  const all = fs.readdirSync(path.join(dataDir, "train")).sort();
  if (all.length !== 10) throw new Error(`expected 10 classes in ${dataDir}/train, found ${all.length}`);
  const source = all.slice(0, 5);
  const target = all.slice(5);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-transfer-"));
  const quick = PRESETS["quick-cpu"];

  // ---- 1. the backbone: the project's CNN, supervised on classes 0-4 ------------------------------
  const backboneDir = values["backbone-dir"] ?? path.join(os.tmpdir(), `fixlabel-transfer-backbone-${values["pretrain-minutes"]}min-b${values["pretrain-batch"]}`);
  let pretrainNote: string;
  if (fs.existsSync(path.join(backboneDir, "model.json"))) {
    pretrainNote = `reused ${backboneDir}`;
  } else {
    const sourceTrain = await readClasses("train", source);
    const sourceTest = await readClasses("test", source);
    const config: TrainConfig = {
      ...DEFAULT_TRAIN_CONFIG,
      ...quick,
      mode: "supervised",
      inputSize: SIZE,
      channels: 3,
      numClasses: 5,
      batchSize: Number(values["pretrain-batch"]),
      steps: 2 ** 30,
      timeBudgetS: Number(values["pretrain-minutes"]) * 60,
      evalEvery: 2 ** 30,
      checkpointEvery: 2 ** 30,
      seed: 1,
    };
    const labeled = Array.from(sourceTrain.labels, (c, frame) => ({ imageId: frame, frame, classIndex: c }));
    const runDir = path.join(workDir, "pretrain");
    const result = await train({ config, data: { cache: { size: SIZE, channels: 3, pixels: sourceTrain.pixels }, labeled, heldOut: [], unlabeled: [] }, runDir });
    const { model } = await loadTrainedModel(runDir);
    const probs = predictProbs(model, { size: SIZE, channels: 3, pixels: sourceTest.pixels }, Array.from(sourceTest.labels.keys()));
    const acc = scorePool(probs, sourceTest.labels, 5, new Set(), 1.01, 0).poolAcc;
    await saveLayersModel(model, backboneDir);
    model.dispose();
    pretrainNote = `trained ${result.step} steps of batch ${config.batchSize} in ${values["pretrain-minutes"]} min, test accuracy on classes 0-4 ${(100 * acc).toFixed(1)}%, saved to ${backboneDir}`;
  }
  const modelJson = JSON.parse(fs.readFileSync(path.join(backboneDir, "model.json"), "utf8")) as { modelTopology: { config: { layers: { name: string; class_name: string }[] } } };
  const pool = modelJson.modelTopology.config.layers.find((l) => l.class_name === "GlobalAveragePooling2D");
  if (!pool) throw new Error("the saved CNN has no global average pooling layer to cut at");
  console.log(`backbone: ${pretrainNote}; cut at "${pool.name}"`);
  const ref: BackboneRef = { kind: "custom", source: backboneDir, cutLayer: pool.name, preprocessing: { inputSize: SIZE, channels: 3, scale: 1 / 255, offset: 0 } };
  const backbone = await loadBackbone(ref, { dataDir: workDir });

  // ---- 2. features of the pool (classes 5-9) ------------------------------------------------------
  const poolData = await readClasses("train", target);
  // Next to the backbone, so a rerun with the same backbone reads its features from the cache.
  const features = await poolFeatures(backbone, framesAsImages(poolData.pixels, FRAME), `${backboneDir}-features`, DEFAULT_POLICY, k, console.log);
  const featureS = features.seconds.plain + features.seconds.views;
  console.log(`features (cache ${backboneDir}-features): ${poolData.labels.length} images, dim ${features.dim}, plain ${features.seconds.plain.toFixed(1)} s, ${k} weak + ${k} strong views ${features.seconds.views.toFixed(1)} s`);

  // ---- 3. per seed --------------------------------------------------------------------------------
  const rows: Record<string, PoolScore[]> = { "linear-probe": [], "class-mean": [], fixmatch: [], scratch: [] };
  for (const seed of seeds) {
    const labeled = drawLabels(poolData.labels, 5, 4, seed);
    const heads = await scoreHeads({
      features,
      truth: poolData.labels,
      numClasses: 5,
      labeled,
      tau,
      seed,
      budgetS: values["head-steps"] ? Infinity : Math.max(10, budgetS - featureS),
      head: {
        hidden: Number(values.hidden),
        threshold: tau,
        distributionAlignment: values.da === "true",
        distributionAlignmentMomentum: 0.99,
        ...(values["head-steps"] ? { steps: Number(values["head-steps"]) } : {}),
      },
      workDir,
    });
    console.log(`seed ${seed}`);
    for (const [name, s] of Object.entries(heads)) {
      rows[name].push(s);
      console.log(`  ${formatScore(name === "fixmatch" ? "fixmatch head (views)" : name, s)}`);
    }
    if (!values["skip-scratch"]) {
      const started = performance.now();
      const config: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, ...quick, mode: "fixmatch", inputSize: SIZE, channels: 3, numClasses: 5, seed, steps: 2 ** 30, timeBudgetS: budgetS, evalEvery: 2 ** 30, checkpointEvery: 2 ** 30 };
      const runDir = path.join(workDir, `scratch-${seed}`);
      const examples = labeled.rows.map((frame, i) => ({ imageId: frame, frame, classIndex: labeled.classes[i] }));
      const result = await train({ config, data: { cache: { size: SIZE, channels: 3, pixels: poolData.pixels }, labeled: examples, heldOut: [], unlabeled: Array.from(poolData.labels.keys()) }, runDir });
      const { model } = await loadTrainedModel(runDir);
      const probs = predictProbs(model, { size: SIZE, channels: 3, pixels: poolData.pixels }, Array.from(poolData.labels.keys()));
      model.dispose();
      const s = { ...scorePool(probs, poolData.labels, 5, new Set(labeled.rows), tau, (performance.now() - started) / 1000), steps: result.step };
      rows.scratch.push(s);
      console.log(`  ${formatScore("fixmatch from scratch", s)}`);
    }
  }
  fs.rmSync(workDir, { recursive: true, force: true });

  const cpus = os.cpus();
  console.log(`\nCIFAR-10-small, backbone from classes ${source.join(",")} -> pool of classes ${target.join(",")} (${poolData.labels.length} images), 4 labels/class, tau ${tau}, seeds ${seeds.join(",")}`);
  console.log(`budget per method ${values.minutes} min (FixMatch head: ${values.minutes} min minus ${featureS.toFixed(0)} s of features); views K=${k}, head hidden ${values.hidden}, DA ${values.da}`);
  for (const [name, list] of Object.entries(rows)) {
    if (list.length === 0) continue;
    const accs = list.map((s) => 100 * s.poolAcc);
    const passing = median(list.map((s) => s.passing));
    const precision = list.map((s) => (s.passing > 0 ? (100 * s.right) / s.passing : NaN)).filter(Number.isFinite);
    console.log(
      `${name.padEnd(14)} median pool accuracy ${median(accs).toFixed(1)}% (min ${Math.min(...accs).toFixed(1)}, max ${Math.max(...accs).toFixed(1)})  median above tau ${passing}  median precision there ${precision.length ? median(precision).toFixed(1) + "%" : "-"}`,
    );
  }
  console.log(`machine: ${cpus.length} x ${cpus[0]?.model.trim()}, backend ${backend.name} (${backend.reason})`);
  const flags = Object.entries(values)
    .filter(([key, v]) => v !== undefined && key !== "data" && v !== false)
    .map(([key, v]) => (v === true ? `--${key}` : `--${key} ${v}`))
    .join(" ");
  console.log(`reproduce: npx tsx bench/backbone-transfer.ts ${flags}${values.data ? ` --data ${values.data}` : ""}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
