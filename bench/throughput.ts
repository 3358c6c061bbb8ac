/**
 * Training and prediction throughput of the project's residual CNN on every tfjs backend that
 * loads here, and of the same network in PyTorch when /usr/bin/python3 has torch.
 *
 *   npx tsx bench/throughput.ts [--model small] [--batch 64] [--steps 20]
 *       [--predict-batch 256] [--cpu-steps 1] [--threads <cores>] [--no-cpu] [--no-torch]
 *       [--mobilenet-batch 16] [--mobilenet-steps 3] [--no-mobilenet]
 *
 * Train = forward + backward + SGD update on one batch. Predict = what the app runs on one batch:
 * the worker's predict job function (lib/ml/infer.ts predictProbsAndEmbeddings: uint8 pixels in,
 * softmax probabilities and penultimate embeddings out) on the model folded once as the job folds it
 * (BatchNorm folded into the convolutions, ReLU fused: lib/ml/fold-batchnorm.ts); "unfolded" beside
 * it is plain model.predict on the trained model, for comparison in the same run.
 * Figures are images/s of the median step after warm-up steps (2; 1 on cpu). The pure-JS cpu
 * backend is ~200x slower than wasm (its shipped filter-gradient kernel reads element by element),
 * so it runs only --cpu-steps steps on a batch of at most 2 (--no-cpu skips it).
 *
 * MobileNetV2 row (1.0, 224 px, random weights; the pretrained-backbone path), on the first tfjs
 * backend that loads (never cpu) and torchvision's mobilenet_v2 in the same run:
 *   forward = features + global average pool on the folded extractor, as feature extraction runs
 *             it (lib/ml/features/cache.ts), and the unfolded model.predict beside it;
 *   top     = forward of the whole net, backward + SGD of the top blocks only (block_13..16 and
 *             Conv_1; earlier blocks frozen) and a 10-class head (fine-tuning the top).
 * --threads (default: every core) sets PyTorch's threads and wasm's (FIXLABEL_WASM_THREADS); both printed.
 */
import { execFileSync, spawnSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { BACKEND_NAMES, initBackend, type BackendName } from "../lib/ml/backend";
import { foldBatchNorms } from "../lib/ml/fold-batchnorm";
import { inferenceModel, predictProbsAndEmbeddings } from "../lib/ml/infer";
import { buildMobileNetV2 } from "../lib/ml/models/mobilenetv2";
import { buildResNet, SMALL_RESNET, type ResNetConfig } from "../lib/ml/models/resnet";
import * as tf from "../lib/ml/tf";

const MODELS: Record<string, ResNetConfig> = { small: SMALL_RESNET };
const CPU_MAX_BATCH = 2;
/** glibc malloc settings that stop PyTorch paying a fresh mmap (page faults) per large tensor. */
const TUNED_MALLOC = { MALLOC_MMAP_MAX_: "0", MALLOC_TRIM_THRESHOLD_: "100000000000", MALLOC_TOP_PAD_: "1073741824" };
const PYTHON = "/usr/bin/python3";

type Options = {
  model: string; batch: number; steps: number; predictBatch: number; cpuSteps: number; threads: number; cpu: boolean; torch: boolean;
  mobilenet: boolean; mobilenetBatch: number; mobilenetSteps: number;
};
type Row = { runtime: string; batch: number; steps: number; trainImagesPerSec: number; predictImagesPerSec: number; unfoldedPredictImagesPerSec: number | null };
/** Keras' block_13 .. block_16 and Conv_1 are trained in the "top" measurement; earlier layers frozen. */
const MOBILENET_FIRST_TRAINED_BLOCK = "block_13_";

function parseOptions(argv: string[]): Options {
  const opts: Options = {
    model: "small", batch: 64, steps: 20, predictBatch: 256, cpuSteps: 1, threads: os.cpus().length, cpu: true, torch: true,
    mobilenet: true, mobilenetBatch: 16, mobilenetSteps: 3,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const int = () => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer`);
      return n;
    };
    if (flag === "--model") opts.model = value();
    else if (flag === "--batch") opts.batch = int();
    else if (flag === "--steps") opts.steps = int();
    else if (flag === "--predict-batch") opts.predictBatch = int();
    else if (flag === "--cpu-steps") opts.cpuSteps = int();
    else if (flag === "--threads") opts.threads = int();
    else if (flag === "--no-cpu") opts.cpu = false;
    else if (flag === "--no-torch") opts.torch = false;
    else if (flag === "--no-mobilenet") opts.mobilenet = false;
    else if (flag === "--mobilenet-batch") opts.mobilenetBatch = int();
    else if (flag === "--mobilenet-steps") opts.mobilenetSteps = int();
    else throw new Error(`unknown option ${flag}`);
  }
  if (!MODELS[opts.model]) throw new Error(`--model must be one of: ${Object.keys(MODELS).join(", ")}`);
  return opts;
}

/** Median seconds per call of `step`, after `warmup` untimed calls. */
async function medianSeconds(step: () => Promise<void>, warmup: number, steps: number): Promise<number> {
  for (let i = 0; i < warmup; i++) await step();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = performance.now();
    await step();
    times.push((performance.now() - t) / 1000);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

async function measureTfjs(config: ResNetConfig, batch: number, predictBatch: number, warmup: number, steps: number) {
  const model = buildResNet(config);
  const shape = [config.inputSize, config.inputSize, config.channels];
  const images = tf.randomNormal([batch, ...shape]);
  const labels = tf.tidy(() => tf.oneHot(tf.randomUniform([batch], 0, config.numClasses, "int32") as tf.Tensor1D, config.numClasses));
  const optimizer = tf.train.sgd(0.01);
  const trainStep = async () => {
    const loss = optimizer.minimize(
      () => tf.losses.softmaxCrossEntropy(labels, model.apply(images, { training: true }) as tf.Tensor) as tf.Scalar,
      true,
    )!;
    await loss.data(); // waits for the step to finish on asynchronous backends
    loss.dispose();
  };
  const trainS = await medianSeconds(trainStep, warmup, steps);
  const predictImages = tf.randomNormal([predictBatch, ...shape]);
  const unfoldedStep = async () => {
    const logits = model.predict(predictImages) as tf.Tensor;
    await logits.data();
    logits.dispose();
  };
  const unfoldedS = await medianSeconds(unfoldedStep, warmup, steps);
  // The worker's predict job: folded once per loaded model, then its prediction function per chunk.
  const cache = { size: config.inputSize, channels: config.channels, pixels: Uint8Array.from({ length: predictBatch * shape[0] * shape[1] * shape[2] }, (_, i) => (i * 2654435761) >>> 24) };
  const frames = Array.from({ length: predictBatch }, (_, i) => i);
  const folded = inferenceModel(model);
  const appStep = async () => void (await predictProbsAndEmbeddings(folded.model, cache, frames, predictBatch));
  const predictS = await medianSeconds(appStep, warmup, steps);
  folded.dispose();
  tf.dispose([images, labels, predictImages]);
  optimizer.dispose();
  model.dispose();
  return { trainImagesPerSec: batch / trainS, predictImagesPerSec: predictBatch / predictS, unfoldedPredictImagesPerSec: predictBatch / unfoldedS };
}

/** MobileNetV2 at 224: forward (features + pooling) and top-blocks training, images/s. */
async function measureMobileNetTfjs(batch: number, steps: number) {
  const backbone = buildMobileNetV2({ alpha: 1, inputSize: 224, seed: 1 });
  const images = tf.randomUniform([batch, 224, 224, 3], -1, 1);
  const forwardOf = (model: tf.LayersModel) => async () => {
    const features = tf.tidy(() => tf.mean(model.predict(images) as tf.Tensor4D, [1, 2]));
    await features.data();
    features.dispose();
  };
  const unfoldedForwardS = await medianSeconds(forwardOf(backbone), 1, steps);
  // Feature extraction's model (lib/ml/features/cache.ts): BatchNorm folded, ReLU6 fused.
  const folded = foldBatchNorms(backbone);
  const forwardS = await medianSeconds(forwardOf(folded), 1, steps);
  if (folded !== backbone) folded.dispose();

  // The frozen blocks run outside the gradient tape (as torch skips them with requires_grad off):
  // their output feeds a model of the top layers, rebuilt from the same layer objects.
  const firstTrained = backbone.layers.findIndex((l) => l.name.startsWith(MOBILENET_FIRST_TRAINED_BLOCK));
  const cut = backbone.layers[firstTrained - 1];
  const bottom = tf.model({ inputs: backbone.inputs, outputs: cut.output as tf.SymbolicTensor });
  const topInput = tf.input({ shape: (cut.output as tf.SymbolicTensor).shape.slice(1) as number[] });
  const produced = new Map<string, tf.SymbolicTensor>([[cut.name, topInput]]);
  for (const layer of backbone.layers.slice(firstTrained)) {
    const inbound = layer.inboundNodes[0].inboundLayers.map((l) => produced.get(l.name)!);
    produced.set(layer.name, layer.apply(inbound.length === 1 ? inbound[0] : inbound) as tf.SymbolicTensor);
  }
  const top = tf.model({ inputs: topInput, outputs: produced.get(backbone.layers[backbone.layers.length - 1].name)! });
  const head = tf.layers.dense({ units: 10, name: "bench_head" });
  const labels = tf.tidy(() => tf.oneHot(tf.randomUniform([batch], 0, 10, "int32") as tf.Tensor1D, 10));
  const optimizer = tf.train.sgd(0.01);
  const topStep = async () => {
    const frozen = tf.tidy(() => bottom.apply(images, { training: true }) as tf.Tensor4D);
    const loss = optimizer.minimize(() => {
      const pooled = tf.mean(top.apply(frozen, { training: true }) as tf.Tensor4D, [1, 2]);
      return tf.losses.softmaxCrossEntropy(labels, head.apply(pooled) as tf.Tensor) as tf.Scalar;
    }, true, [...top.trainableWeights, ...head.trainableWeights].map((w) => w.read() as tf.Variable))!;
    await loss.data();
    tf.dispose([loss, frozen]);
  };
  const topS = await medianSeconds(topStep, 1, steps);
  tf.dispose([images, labels]);
  optimizer.dispose();
  backbone.dispose();
  return { forwardImagesPerSec: batch / forwardS, unfoldedForwardImagesPerSec: batch / unfoldedForwardS, topTrainImagesPerSec: batch / topS };
}

function measureMobileNetTorch(opts: Options) {
  const script = path.join(import.meta.dirname, "throughput_mobilenet_torch.py");
  const args = [script, "--batch", `${opts.mobilenetBatch}`, "--steps", `${opts.mobilenetSteps}`, "--threads", `${opts.threads}`];
  const run = spawnSync(PYTHON, args, { env: { ...process.env, ...TUNED_MALLOC }, encoding: "utf8" });
  const line = run.stdout?.split("\n").find((l) => l.startsWith("RESULT "));
  if (!line) return new Error(`${script}: ${(run.stderr ?? "").trim().split("\n").pop()}`);
  return JSON.parse(line.slice("RESULT ".length)) as { torch: string; torchvision: string; threads: number; forwardImagesPerSec: number; topTrainImagesPerSec: number };
}

function torchAvailable(): boolean {
  return spawnSync(PYTHON, ["-c", "import torch"], { stdio: "ignore" }).status === 0;
}

function measureTorch(opts: Options): Row {
  const script = path.join(import.meta.dirname, "throughput_torch.py");
  const args = [script, "--model", opts.model, "--batch", `${opts.batch}`, "--predict-batch", `${opts.predictBatch}`,
    "--steps", `${opts.steps}`, "--threads", `${opts.threads}`];
  const out = execFileSync(PYTHON, args, { env: { ...process.env, ...TUNED_MALLOC }, encoding: "utf8" });
  const line = out.split("\n").find((l) => l.startsWith("RESULT "));
  if (!line) throw new Error(`no RESULT line from ${script}:\n${out}`);
  const r = JSON.parse(line.slice("RESULT ".length));
  return { runtime: `PyTorch ${r.torch} (${r.threads} threads, tuned malloc)`, batch: opts.batch, steps: opts.steps,
    trainImagesPerSec: r.trainImagesPerSec, predictImagesPerSec: r.predictImagesPerSec, unfoldedPredictImagesPerSec: null };
}

function printTable(rows: Row[]): void {
  const header = ["runtime", "train batch", "steps", "train img/s", "predict img/s (app)", "unfolded model.predict img/s"];
  const rate = (n: number) => (n >= 10 ? n.toFixed(1) : n.toPrecision(2));
  const cells = rows.map((r) => [r.runtime, `${r.batch}`, `${r.steps}`, rate(r.trainImagesPerSec), rate(r.predictImagesPerSec), r.unfoldedPredictImagesPerSec === null ? "-" : rate(r.unfoldedPredictImagesPerSec)]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join("  ");
  console.log(line(header));
  for (const c of cells) console.log(line(c));
}

async function mobileNetRow(opts: Options, backend: BackendName | undefined): Promise<void> {
  if (!backend) return void console.log("\nMobileNetV2: skipped (no tfjs backend other than cpu loaded)");
  const choice = await initBackend({ force: backend, purpose: "forward", log: () => {} });
  const threads = choice.threads !== undefined ? `, ${choice.threads} threads` : "";
  console.error(`measuring MobileNetV2 @224 on tfjs ${backend}: batch ${opts.mobilenetBatch}, ${opts.mobilenetSteps} steps ...`);
  const tfjsRate = await measureMobileNetTfjs(opts.mobilenetBatch, opts.mobilenetSteps);
  const rate = (n: number) => (n >= 10 ? n.toFixed(1) : n.toPrecision(2));
  console.log(`\nMobileNetV2 1.0 @224, batch ${opts.mobilenetBatch}, median of ${opts.mobilenetSteps} (forward = features + pool; top = train ${MOBILENET_FIRST_TRAINED_BLOCK}.. + head)`);
  console.log(`  tfjs ${backend}${threads}: forward ${rate(tfjsRate.forwardImagesPerSec)} img/s (folded; unfolded ${rate(tfjsRate.unfoldedForwardImagesPerSec)}), top train ${rate(tfjsRate.topTrainImagesPerSec)} img/s`);
  if (!opts.torch || !torchAvailable()) return void console.log("  torchvision: skipped");
  console.error("measuring torchvision mobilenet_v2 ...");
  const t = measureMobileNetTorch(opts);
  if (t instanceof Error) return void console.log(`  torchvision: skipped (${t.message})`);
  console.log(`  PyTorch ${t.torch} torchvision ${t.torchvision} (${t.threads} threads, tuned malloc): forward ${rate(t.forwardImagesPerSec)} img/s, top train ${rate(t.topTrainImagesPerSec)} img/s`);
  console.log(`  tfjs / PyTorch: forward ${(tfjsRate.forwardImagesPerSec / t.forwardImagesPerSec).toFixed(3)}x, top train ${(tfjsRate.topTrainImagesPerSec / t.topTrainImagesPerSec).toFixed(3)}x`);
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  process.env.FIXLABEL_WASM_THREADS = `${opts.threads}`; // read when the wasm backend first loads
  const config = MODELS[opts.model];
  const cpus = os.cpus();
  console.log(`machine: ${cpus[0]?.model ?? "unknown cpu"}, ${cpus.length} cores; node ${process.version}; tfjs ${tf.version_core}`);
  console.log(`model: ${opts.model} ${JSON.stringify(config)}; predict batch ${opts.predictBatch}`);
  const rows: Row[] = [];
  const ranTfjs: BackendName[] = [];
  for (const name of BACKEND_NAMES.filter((n) => opts.cpu || n !== "cpu")) {
    const choice = await initBackend({ force: name, log: () => {} }).catch((e: Error) => e);
    if (choice instanceof Error) {
      console.log(`skipped ${name}: ${choice.message}`);
      continue;
    }
    // A native backend makes wasm and cpu pointless to time: they exist as fallbacks for it.
    if (ranTfjs.some((n) => n.startsWith("tfjs-node")) && (name === "wasm" || name === "cpu")) continue;
    const isCpu = name === "cpu";
    const batch = isCpu ? Math.min(opts.batch, CPU_MAX_BATCH) : opts.batch;
    const predictBatch = isCpu ? Math.min(opts.predictBatch, CPU_MAX_BATCH) : opts.predictBatch;
    const steps = isCpu ? opts.cpuSteps : opts.steps;
    const detail = name === "wasm" ? ` (${choice.simd ? "SIMD" : "no SIMD"}, ${choice.threads} thread${choice.threads === 1 ? "" : "s"})` : "";
    console.error(`measuring tfjs ${name}: train batch ${batch}, ${steps} steps ...`);
    const r = await measureTfjs(config, batch, predictBatch, isCpu ? 1 : 2, steps);
    rows.push({ runtime: `tfjs ${name}${detail}`, batch, steps, ...r });
    ranTfjs.push(name);
  }
  let torchRow: Row | null = null;
  if (!opts.torch) console.log("PyTorch: skipped (--no-torch)");
  else if (!torchAvailable()) console.log(`PyTorch: skipped (${PYTHON} cannot import torch)`);
  else {
    console.error("measuring PyTorch ...");
    rows.push((torchRow = measureTorch(opts)));
  }
  console.log();
  printTable(rows);
  const fastestTfjs = rows.find((r) => r.runtime.startsWith("tfjs"));
  if (torchRow && fastestTfjs) {
    console.log(
      `\n${fastestTfjs.runtime} / PyTorch: train ${(fastestTfjs.trainImagesPerSec / torchRow.trainImagesPerSec).toFixed(3)}x, ` +
        `predict ${(fastestTfjs.predictImagesPerSec / torchRow.predictImagesPerSec).toFixed(3)}x` +
        (fastestTfjs.unfoldedPredictImagesPerSec === null ? "" : ` (unfolded model.predict ${(fastestTfjs.unfoldedPredictImagesPerSec / torchRow.predictImagesPerSec).toFixed(3)}x)`),
    );
  }
  if (opts.mobilenet && fastestTfjs) await mobileNetRow(opts, ranTfjs.find((n) => n !== "cpu"));
  console.log(`\nreproduce: npx tsx bench/throughput.ts ${process.argv.slice(2).join(" ")}`.trimEnd());
}

// Exits explicitly: the threaded wasm backend's worker threads would keep the process alive.
main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
