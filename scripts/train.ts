/**
 * `npm run train -- --data <dir> [--preset quick-cpu] [--steps N] [--minutes M] [--mode fixmatch|supervised] [--out dir]`:
 * trains on an ImageFolder directory without the app, the database or the worker, and writes the
 * EMA model (tfjs layers model.json + weight shards, softmax included, as the app's model download)
 * and predictions.csv for every image.
 * `npm run train -- --backend-info` prints which tfjs backend loads here for training and for
 * forward passes, why (each faster one skipped with its reason), and wasm's thread count.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import sharp from "sharp";
import { backendReport, initBackend } from "@/lib/ml/backend";
import { backbonePreprocessing, describeBackbone, isUrl, MOBILENET_V2_PREPROCESSING, parseBackboneArg } from "@/lib/ml/backbones/sources";
import { withBackboneInput } from "@/lib/ml/backbones/finetune";
import { splitHeldOut, type LabeledExample } from "@/lib/ml/data";
import { loadTrainedModel, predictProbs } from "@/lib/ml/infer";
import { pixelCacheFiles, updatePixelCache } from "@/lib/ml/pixels";
import { PRESET_NAMES, PRESETS, type PresetName } from "@/lib/ml/presets";
import { saveLayersModel, withSoftmax } from "@/lib/ml/model-files";
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
  --backbone <b>      start from a pretrained backbone: mobilenet-v2:<0.35|0.50|0.75|1.00> (ImageNet,
                      downloaded once into <FIXLABEL_DATA_DIR or ./data>/backbones/), or a folder or
                      URL of a TensorFlow.js layers model (then --cut-layer is needed)
  --cut-layer <name>  the layer of your own backbone whose output is pooled into features
  --input-size <px>   your own backbone's input size (default 224); pixels are scaled to [-1, 1]
  --backbone-mode <m> finetune (the loop trains the backbone's top third with FixMatch; for a GPU)
                      | frozen (cached features + a head: runs in the app's worker)
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
  const backbone = values.backbone
    ? parseBackboneArg(path.isAbsolute(values.backbone) || isUrl(values.backbone) || /^mobilenet/i.test(values.backbone) ? values.backbone : path.resolve(values.backbone), {
        cutLayer: values["cut-layer"],
        preprocessing: { ...MOBILENET_V2_PREPROCESSING, ...(values["input-size"] ? { inputSize: Number(values["input-size"]) } : {}) },
      })
    : null;
  const backboneMode = values["backbone-mode"] ?? (backbone ? "finetune" : undefined);
  if (backboneMode !== undefined && backboneMode !== "finetune" && backboneMode !== "frozen") throw new Error(`--backbone-mode must be frozen or finetune`);
  if (backboneMode && !backbone) throw new Error("--backbone-mode needs --backbone");
  if (backboneMode === "frozen") {
    throw new Error("--backbone-mode frozen trains a head over cached features in the app's worker (lib/ml/features); from the command line, use --backbone-mode finetune");
  }
  const backend = await initBackend();

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
    ...(backbone ? { backbone, backboneMode: "finetune" as const } : {}),
  });

  console.log(`${items.length} images, ${items.filter((i) => i.classIndex !== null).length} labeled, classes: ${classes.join(", ")}`);
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

  let stop = false;
  process.on("SIGINT", () => (stop = true));
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
  await saveLayersModel(withSoftmax(model), path.join(out, "model"));
  const probs = predictProbs(model, cache, items.map((i) => cache.frameOf.get(i.id)!));
  model.dispose();
  const lines = [["file", "label", "predicted", "confidence", ...classes.map((c) => `p_${c}`)].map(csvField).join(",")];
  items.forEach((item, i) => {
    const p = Array.from(probs.subarray(i * classes.length, (i + 1) * classes.length));
    const top = p.indexOf(Math.max(...p));
    const label = item.classIndex === null ? "" : classes[item.classIndex];
    lines.push([path.relative(values.data!, item.file), label, classes[top], p[top].toFixed(4), ...p.map((v) => v.toFixed(4))].map(csvField).join(","));
  });
  await fsp.writeFile(path.join(out, "predictions.csv"), lines.join("\n") + "\n");
  console.log(`wrote ${path.join(out, "model", "model.json")} and ${path.join(out, "predictions.csv")}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
