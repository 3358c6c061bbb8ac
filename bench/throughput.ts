/**
 * Training and prediction throughput of the project's residual CNN on every tfjs backend that
 * loads here, and of the same network in PyTorch when /usr/bin/python3 has torch.
 *
 *   npx tsx bench/throughput.ts [--model small] [--batch 64] [--steps 20]
 *       [--predict-batch 256] [--cpu-steps 1] [--threads 2] [--no-cpu] [--no-torch]
 *
 * Train = forward + backward + SGD update on one batch; predict = inference on one batch.
 * Figures are images/s of the median step after warm-up steps (2; 1 on cpu). The pure-JS cpu
 * backend is ~200x slower than wasm (its shipped filter-gradient kernel reads element by element),
 * so it runs only --cpu-steps steps on a batch of at most 2 (--no-cpu skips it).
 */
import { execFileSync, spawnSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { BACKEND_NAMES, initBackend, type BackendName } from "../lib/ml/backend";
import { buildResNet, SMALL_RESNET, type ResNetConfig } from "../lib/ml/models/resnet";
import * as tf from "../lib/ml/tf";

const MODELS: Record<string, ResNetConfig> = { small: SMALL_RESNET };
const CPU_MAX_BATCH = 2;
/** glibc malloc settings that stop PyTorch paying a fresh mmap (page faults) per large tensor. */
const TUNED_MALLOC = { MALLOC_MMAP_MAX_: "0", MALLOC_TRIM_THRESHOLD_: "100000000000", MALLOC_TOP_PAD_: "1073741824" };
const PYTHON = "/usr/bin/python3";

type Options = { model: string; batch: number; steps: number; predictBatch: number; cpuSteps: number; threads: number; cpu: boolean; torch: boolean };
type Row = { runtime: string; batch: number; steps: number; trainImagesPerSec: number; predictImagesPerSec: number };

function parseOptions(argv: string[]): Options {
  const opts: Options = { model: "small", batch: 64, steps: 20, predictBatch: 256, cpuSteps: 1, threads: 2, cpu: true, torch: true };
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
  const predictStep = async () => {
    const logits = model.predict(predictImages) as tf.Tensor;
    await logits.data();
    logits.dispose();
  };
  const predictS = await medianSeconds(predictStep, warmup, steps);
  tf.dispose([images, labels, predictImages]);
  optimizer.dispose();
  model.dispose();
  return { trainImagesPerSec: batch / trainS, predictImagesPerSec: predictBatch / predictS };
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
    trainImagesPerSec: r.trainImagesPerSec, predictImagesPerSec: r.predictImagesPerSec };
}

function printTable(rows: Row[]): void {
  const header = ["runtime", "train batch", "steps", "train img/s", "predict img/s"];
  const rate = (n: number) => (n >= 10 ? n.toFixed(1) : n.toPrecision(2));
  const cells = rows.map((r) => [r.runtime, `${r.batch}`, `${r.steps}`, rate(r.trainImagesPerSec), rate(r.predictImagesPerSec)]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join("  ");
  console.log(line(header));
  for (const c of cells) console.log(line(c));
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
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
        `predict ${(fastestTfjs.predictImagesPerSec / torchRow.predictImagesPerSec).toFixed(3)}x`,
    );
  }
  console.log(`\nreproduce: npx tsx bench/throughput.ts ${process.argv.slice(2).join(" ")}`.trimEnd());
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
