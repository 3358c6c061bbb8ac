/**
 * `npm run train -- --data <dir> [--preset quick-cpu] [--steps N] [--minutes M] [--mode fixmatch|supervised] [--out dir]`:
 * trains on an ImageFolder directory without the app, the database or the worker, and writes the
 * model (tfjs layers model.json + weight shards, softmax included, as the app's model download,
 * with preprocessing.json and labels.json) and predictions.csv for every image.
 * It starts as a run of the app does: from ImageNet MobileNetV2 when its weights are downloaded
 * (lib/ml/backbones/default-choice.ts), else from scratch, and says which and why; a backbone
 * trains frozen (cached features + a head, lib/ml/features/frozen-run.ts) on CPU backends and is
 * fine-tuned on tfjs-node-gpu.
 * `npm run train -- --backend-info` prints which tfjs backend loads here for training and for
 * forward passes, why (each faster one skipped with its reason), and wasm's thread count.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import sharp from "sharp";
import { backendReport, initBackend } from "@/lib/ml/backend";
import { createHash } from "node:crypto";
import { loadBackbone } from "@/lib/ml/backbones";
import { composeClassifier } from "@/lib/ml/backbones/compose";
import { defaultBackboneMode, defaultStartFrom } from "@/lib/ml/backbones/default-choice";
import { backbonePreprocessing, describeBackbone, isUrl, MOBILENET_V2_PREPROCESSING, parseBackboneArg } from "@/lib/ml/backbones/sources";
import type { BackboneRef } from "@/lib/ml/backbones/types";
import { withBackboneInput } from "@/lib/ml/backbones/finetune";
import { splitHeldOut, type LabeledExample } from "@/lib/ml/data";
import { preprocessingSpec } from "@/lib/ml/export";
import { describeFeatures, disposeBackbone, headConfigFor, headProbs, runFrozenBackbone, saveHead, type HeldOutByHead, type LabeledRows, type SavedHeadInfo } from "@/lib/ml/features";
import { getEnv } from "@/lib/env";
import { proportion } from "@/lib/review/evidence";
import { loadTrainedModel, predictProbs } from "@/lib/ml/infer";
import { decodeImage, pixelCacheFiles, updatePixelCache } from "@/lib/ml/pixels";
import { PRESET_NAMES, PRESETS, type PresetName } from "@/lib/ml/presets";
import { saveLayersModel, withSoftmax } from "@/lib/ml/model-files";
import type { LayersModel } from "@/lib/ml/tf";
import { train } from "@/lib/ml/train";
import { DEFAULT_TRAIN_CONFIG, type TrainConfig, type TrainMode } from "@/lib/ml/config";

const HELP = `Usage: npm run train -- --data <dir> [options]

<dir> holds one folder of images per class (<dir>/<class>/*.png|jpg|...) and, optionally, a folder
"unlabeled" of images without labels. About 20% of each class's labeled images are held out for
evaluation (never trained on).

Options:
  --data <dir>        the ImageFolder directory (required)
  --preset <name>     ${PRESET_NAMES.join(" | ")} (default quick-cpu)
  --steps <n>         training steps (default: the preset's)
  --minutes <m>       also stop after m minutes of training (the learning rate decays over
                      whichever of steps and time runs out first); raise --steps to let the time decide
  --mode <mode>       fixmatch | supervised (default fixmatch)
  --seed <n>          random seed (default 1)
  --backbone <b>      what to start from: mobilenet-v2:<0.35|0.50|0.75|1.00> (ImageNet, downloaded
                      once into <FIXLABEL_DATA_DIR or ./data>/backbones/), a folder or URL of a
                      TensorFlow.js layers model (then --cut-layer is needed), or none (the preset's
                      model from scratch). Default: mobilenet-v2:1.00 when it is downloaded, else
                      none; the run prints which and why
  --cut-layer <name>  the layer of your own backbone whose output is pooled into features
  --input-size <px>   your own backbone's input size (default 224); pixels are scaled to [-1, 1]
  --backbone-mode <m> frozen (features of each image and of 4 weak + 4 strong views computed once
                      and cached in <out>/features, a linear probe at once, then a FixMatch head;
                      the default on CPU backends) | finetune (the loop trains the backbone's top
                      third with FixMatch; the default on tfjs-node-gpu)
  --out <dir>         where model/, predictions.csv, the checkpoint and the pixel cache go (default ./train-out)
                      An existing checkpoint in <out>/run is resumed.
  --backend-info      print which tfjs backend loads here and why (training and forward passes), then exit
  --help, -h          this text`;

const IMAGE = /\.(png|jpe?g|webp|gif|tiff?|avif)$/i;

type Item = { id: number; file: string; classIndex: number | null };

function listImages(dataDir: string): { classes: string[]; items: Item[] } {
  const folders = fs.readdirSync(dataDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  const classes = folders.filter((f) => f !== "unlabeled");
  const items: Item[] = [];
  for (const folder of folders) {
    const classIndex = folder === "unlabeled" ? null : classes.indexOf(folder);
    for (const name of fs.readdirSync(path.join(dataDir, folder)).filter((n) => IMAGE.test(n)).sort()) {
      items.push({ id: items.length + 1, file: path.join(dataDir, folder, name), classIndex });
    }
  }
  return { classes, items };
}

function csvField(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: "string" },
      preset: { type: "string", default: "quick-cpu" },
      steps: { type: "string" },
      minutes: { type: "string" },
      mode: { type: "string", default: "fixmatch" },
      seed: { type: "string", default: "1" },
      out: { type: "string", default: "train-out" },
      backbone: { type: "string" },
      "cut-layer": { type: "string" },
      "input-size": { type: "string" },
      "backbone-mode": { type: "string" },
      help: { type: "boolean", short: "h" },
      "backend-info": { type: "boolean" },
    },
  });
  if (values["backend-info"]) {
    console.log(await backendReport());
    process.exit(0); // the threaded wasm backend's worker threads would keep the process alive
  }
  if (values.help || !values.data) {
    console.log(HELP);
    process.exit(values.help ? 0 : 2);
  }
  if (!(values.preset! in PRESETS)) throw new Error(`unknown preset "${values.preset}": ${PRESET_NAMES.join(", ")}`);
  if (values.mode !== "fixmatch" && values.mode !== "supervised") throw new Error(`--mode must be fixmatch or supervised`);
  const minutes = values.minutes === undefined ? null : Number(values.minutes);
  if (minutes !== null && !(minutes > 0)) throw new Error(`--minutes must be a positive number, not "${values.minutes}"`);
  const out = path.resolve(values.out!);
  const backend = await initBackend();
  const dataDir = getEnv().dataDir;
  let backbone: BackboneRef | null;
  if (values.backbone === undefined) {
    // As a run of the app: ImageNet MobileNetV2 when it is on this machine, and always the reason.
    const start = defaultStartFrom(dataDir, `the ${values.preset} preset's model`);
    backbone = start.backbone;
    console.log(`start: ${backbone ? describeBackbone(backbone) : "from scratch"} (${start.reason}; --backbone none|mobilenet-v2:<alpha>|<folder> to choose)`);
  } else if (values.backbone === "none") {
    backbone = null;
    console.log("start: from scratch (--backbone none)");
  } else {
    backbone = parseBackboneArg(path.isAbsolute(values.backbone) || isUrl(values.backbone) || /^mobilenet/i.test(values.backbone) ? values.backbone : path.resolve(values.backbone), {
      cutLayer: values["cut-layer"],
      preprocessing: { ...MOBILENET_V2_PREPROCESSING, ...(values["input-size"] ? { inputSize: Number(values["input-size"]) } : {}) },
    });
  }
  if (values["backbone-mode"] !== undefined && values["backbone-mode"] !== "finetune" && values["backbone-mode"] !== "frozen") throw new Error(`--backbone-mode must be frozen or finetune`);
  if (values["backbone-mode"] && !backbone) throw new Error("--backbone-mode needs a backbone (--backbone)");
  // A backbone with no mode is frozen on a CPU backend (the app's rule), fine-tuned on a GPU one.
  const backboneMode = backbone ? ((values["backbone-mode"] as "frozen" | "finetune" | undefined) ?? defaultBackboneMode(backend.name)) : undefined;

  const { classes, items } = listImages(path.resolve(values.data));
  if (classes.length < 2) throw new Error(`${values.data} needs at least two class folders`);
  const channels = backbone ? backbonePreprocessing(backbone).channels : (await sharp(items[0].file).metadata()).channels! <= 2 ? 1 : 3;
  const preset = PRESETS[values.preset as PresetName];
  const config: TrainConfig = withBackboneInput({
    ...DEFAULT_TRAIN_CONFIG,
    ...preset,
    mode: values.mode as TrainMode,
    channels,
    numClasses: classes.length,
    seed: Number(values.seed),
    ...(values.steps ? { steps: Number(values.steps) } : {}),
    ...(minutes !== null ? { timeBudgetS: minutes * 60 } : {}),
    ...(backbone ? { backbone, backboneMode } : {}),
  });

  console.log(`${items.length} images, ${items.filter((i) => i.classIndex !== null).length} labeled, classes: ${classes.join(", ")}`);
  let stop = false;
  process.on("SIGINT", () => (stop = true));
  if (backbone && backboneMode === "frozen") {
    await trainFrozenCli({ backbone, config, items, classes, out, dataDir, data: values.data, explicitSteps: values.steps !== undefined, shouldStop: () => stop });
    return;
  }

  const started = Date.now();
  const cache = await updatePixelCache({
    files: pixelCacheFiles(out, 0, config.inputSize, channels),
    size: config.inputSize,
    channels,
    images: items.map((i) => ({ id: i.id, file: i.file })),
  });
  console.log(`pixel cache ready in ${((Date.now() - started) / 1000).toFixed(1)} s (${config.inputSize}px, ${channels} channel${channels === 1 ? "" : "s"})`);

  const labeled: LabeledExample[] = items.filter((i) => i.classIndex !== null).map((i) => ({ imageId: i.id, frame: cache.frameOf.get(i.id)!, classIndex: i.classIndex! }));
  const split = splitHeldOut(labeled);
  if (backbone) console.log(`backbone: ${describeBackbone(backbone)}, fine-tuned (top third trainable), ${config.inputSize}px`);
  console.log(`${config.mode}, preset ${values.preset}, ${config.steps} steps${minutes !== null ? ` or ${minutes} min` : ""}, backend ${backend.name}; ${split.train.length} labeled for training, ${split.heldOut.length} held out`);

  const runDir = path.join(out, "run");
  const result = await train({
    config,
    data: { cache, labeled: split.train, heldOut: split.heldOut, unlabeled: items.map((i) => cache.frameOf.get(i.id)!) },
    runDir,
    backbone: { onProgress: (p) => console.log(`downloading backbone ${(p.bytesDone / 1e6).toFixed(1)}/${(p.bytesTotal / 1e6).toFixed(1)} MB`) },
    shouldStop: () => stop,
    onProgress: (p) => {
      const fields = [`step ${p.step}/${p.totalSteps}`, `lr ${p.lr.toFixed(4)}`, `loss_sup ${p.lossSup.toFixed(4)}`];
      if (p.lossUnsup !== null) fields.push(`loss_unsup ${p.lossUnsup.toFixed(4)}`, `mask ${p.maskRate!.toFixed(2)}`);
      if (p.pseudoAcc !== null) fields.push(`pseudo_acc ${p.pseudoAcc.toFixed(2)}`);
      if (p.heldOutAcc !== null) fields.push(`heldout_acc ${p.heldOutAcc.toFixed(3)}`);
      fields.push(`${p.imagesPerS.toFixed(0)} img/s`, `${(p.imagesPerS / (config.mode === "fixmatch" ? config.batchSize * (1 + 2 * config.mu) : config.batchSize)).toFixed(2)} steps/s`, `eta ${Math.round(p.etaS)} s`);
      console.log(fields.join("  "));
    },
  });
  console.log(`${result.status} at step ${result.step}; held-out accuracy ${result.heldOutAcc ?? "n/a"}; checkpoint in ${runDir}`);

  const { model } = await loadTrainedModel(runDir);
  // The same files as the app's model download: model.json + shards, probabilities out.
  await writeModelFolder(withSoftmax(model), path.join(out, "model"), config, classes);
  const probs = predictProbs(model, cache, items.map((i) => cache.frameOf.get(i.id)!));
  model.dispose();
  await writePredictionsCsv(path.join(out, "predictions.csv"), values.data, items, classes, probs);
  console.log(`wrote ${path.join(out, "model", "model.json")} and ${path.join(out, "predictions.csv")}`);
}

/** model.json + shards, and beside them how to feed it (preprocessing.json) and what it outputs (labels.json), as in the app's model zip. */
async function writeModelFolder(model: LayersModel, dir: string, config: TrainConfig, classes: readonly string[]): Promise<void> {
  await saveLayersModel(model, dir);
  await fsp.writeFile(path.join(dir, "preprocessing.json"), JSON.stringify(preprocessingSpec(config), null, 2));
  await fsp.writeFile(path.join(dir, "labels.json"), JSON.stringify(classes.map((name, index) => ({ index, name })), null, 2));
}

async function writePredictionsCsv(file: string, dataDir: string, items: readonly Item[], classes: readonly string[], probs: Float32Array): Promise<void> {
  const lines = [["file", "label", "predicted", "confidence", ...classes.map((c) => `p_${c}`)].map(csvField).join(",")];
  items.forEach((item, i) => {
    const p = Array.from(probs.subarray(i * classes.length, (i + 1) * classes.length));
    const top = p.indexOf(Math.max(...p));
    const label = item.classIndex === null ? "" : classes[item.classIndex];
    lines.push([path.relative(dataDir, item.file), label, classes[top], p[top].toFixed(4), ...p.map((v) => v.toFixed(4))].map(csvField).join(","));
  });
  await fsp.writeFile(file, lines.join("\n") + "\n");
}

const HEAD_NAMES = { "linear-probe": "linear probe", "class-mean": "class mean", fixmatch: "FixMatch head" } as const;

/**
 * "linear probe 17/20 right (85%, 95% interval 64–95%)" for each head measured on the held-out
 * labels: the count and the interval always, since a choice made on few labels should look like one.
 */
function describeHeads(heads: HeldOutByHead, n: number): string {
  return (Object.keys(HEAD_NAMES) as (keyof typeof HEAD_NAMES)[])
    .filter((kind) => heads[kind] !== undefined)
    .map((kind) => {
      const acc = heads[kind];
      if (acc === null || acc === undefined || n === 0) return `${HEAD_NAMES[kind]} not measured (no held-out labels)`;
      const p = proportion(Math.round(acc * n), n);
      return `${HEAD_NAMES[kind]} ${p.k}/${n} right (${Math.round(100 * p.value!)}%, 95% interval ${Math.round(100 * p.interval![0])}–${Math.round(100 * p.interval![1])}%)`;
    })
    .join(", ");
}

/**
 * A frozen-backbone run (lib/ml/features/frozen-run.ts, as the app's worker runs it): features
 * cached in <out>/features, instant heads, the FixMatch head, the better on held-out labels kept,
 * and backbone + head composed into one model (backbones/compose.ts, as the app's export).
 */
async function trainFrozenCli(opts: {
  backbone: BackboneRef;
  config: TrainConfig;
  items: readonly Item[];
  classes: readonly string[];
  out: string;
  dataDir: string;
  data: string;
  explicitSteps: boolean;
  shouldStop: () => boolean;
}): Promise<void> {
  const { config, items, classes, out } = opts;
  const loaded = await loadBackbone(opts.backbone, {
    dataDir: opts.dataDir,
    onProgress: (p) => console.log(`downloading backbone ${(p.bytesDone / 1e6).toFixed(1)}/${(p.bytesTotal / 1e6).toFixed(1)} MB`),
  });
  const { inputSize, channels } = loaded.preprocessing;
  const images = await Promise.all(
    items.map(async (item) => ({ sha256: createHash("sha256").update(await fsp.readFile(item.file)).digest("hex"), load: () => decodeImage(item.file, inputSize, channels) })),
  );
  // Rows are item positions; about 20% of each class's labels are held out to choose the head.
  const split = splitHeldOut(items.flatMap((item, row) => (item.classIndex === null ? [] : [{ imageId: item.id, frame: row, classIndex: item.classIndex }])));
  const rowsOf = (examples: LabeledExample[]): LabeledRows => ({ rows: examples.map((e) => e.frame), classes: examples.map((e) => e.classIndex) });
  const heldOutN = split.heldOut.length;
  // The head's defaults replace the preset's; what was given on the command line wins.
  const headConfig = headConfigFor(config, opts.explicitSteps ? { steps: config.steps } : {});
  console.log(
    `backbone: ${describeBackbone(opts.backbone)}, frozen (${loaded.featureDim} features at ${inputSize}px); ${split.train.length} labeled for training, ${heldOutN} held out; ` +
      `then a FixMatch head: ${headConfig.steps} steps${headConfig.timeBudgetS ? ` or ${(headConfig.timeBudgetS / 60).toFixed(1)} min` : ""}, B=${headConfig.batchSize}, mu=${headConfig.mu}`,
  );
  let lastPrint = 0;
  const result = await runFrozenBackbone({
    backbone: loaded,
    images,
    featureDir: path.join(out, "features"),
    numClasses: classes.length,
    train: rowsOf(split.train),
    heldOut: rowsOf(split.heldOut),
    augment: config.augment,
    headConfig,
    checkpointDir: path.join(out, "run", "head-train"),
    shouldStop: opts.shouldStop,
    onFeatures: (p) => {
      if (p.done === p.total || Date.now() - lastPrint > 2000) {
        lastPrint = Date.now();
        console.log(describeFeatures(p));
      }
    },
    onInstant: (instant) =>
      console.log(`instant heads on ${heldOutN} held-out labels: ${describeHeads(instant.heldOutAcc, heldOutN)}; proposals from the ${HEAD_NAMES[instant.kind]} after ${instant.afterS.toFixed(1)} s`),
    onHeadProgress: (p) => {
      const fields = [`head step ${p.step}/${p.totalSteps}`, `lr ${p.lr.toFixed(4)}`, `loss_sup ${p.lossSup.toFixed(4)}`, `loss_unsup ${p.lossUnsup.toFixed(4)}`, `mask ${p.maskRate.toFixed(2)}`];
      if (p.pseudoAcc !== null) fields.push(`pseudo_acc ${p.pseudoAcc.toFixed(2)}`);
      if (p.heldOutAcc !== null) fields.push(`heldout_acc ${p.heldOutAcc.toFixed(3)}`);
      fields.push(`${p.secondsPer1000Steps.toFixed(1)} s/1000 steps`, `eta ${Math.round(p.etaS)} s`);
      console.log(fields.join("  "));
    },
  });
  if (result.status === "stopped") {
    disposeBackbone(loaded);
    console.log(`stopped during the ${result.stage === "head" ? `FixMatch head at step ${result.step}` : `${result.stage} features`}; what was computed is cached in ${out}: run the same command again to go on`);
    return;
  }

  const { head, headKind, heldOutAcc } = result;
  try {
    const instantName = HEAD_NAMES[result.instant.kind];
    const why =
      heldOutAcc.fixmatch === null || heldOutAcc.fixmatch === undefined
        ? "no held-out labels to measure the FixMatch head on"
        : headKind === "fixmatch"
          ? `it beats the ${instantName} on the held-out labels`
          : `it does not beat the ${instantName} on the held-out labels`;
    console.log(`held out (n=${heldOutN}): ${describeHeads(heldOutAcc, heldOutN)}; model: the ${HEAD_NAMES[headKind]} (${headKind === "fixmatch" ? "" : "not the FixMatch head: "}${why})`);
    const info: SavedHeadInfo = { headKind, backboneId: loaded.id, featureDim: loaded.featureDim, numClasses: classes.length, heldOutAcc, heldOutImages: heldOutN };
    await saveHead(path.join(out, "run"), head, info);
    // One layers model, images in, probabilities out: the backbone, the head and a softmax.
    await writeModelFolder(composeClassifier(loaded, head), path.join(out, "model"), config, classes);
    await fsp.writeFile(path.join(out, "model", "head.json"), JSON.stringify(info, null, 2));
    await writePredictionsCsv(path.join(out, "predictions.csv"), opts.data, items, classes, headProbs(head, result.plain, loaded.featureDim));
    console.log(`wrote ${path.join(out, "model", "model.json")} (${describeBackbone(opts.backbone)} + ${HEAD_NAMES[headKind]}) and ${path.join(out, "predictions.csv")}`);
  } finally {
    // The composed model shares these weights; disposing the parts frees everything.
    head.dispose();
    disposeBackbone(loaded);
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
