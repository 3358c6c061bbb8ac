/**
 * Two ways to put every core to work on wasm, for prediction / feature extraction of the small
 * CNN: one process running the threaded build with N threads, against N processes of the
 * single-threaded build predicting at the same time (each its share of the pool), summed.
 * Training is only measured threaded (several processes would need a gradient all-reduce).
 *
 *   npx tsx bench/wasm-parallel.ts [--procs 2] [--batch 256] [--steps 10] [--train-batch 64]
 *
 * Figures are images/s of the median batch after 2 warm-up batches.
 */
import { fork } from "node:child_process";
import os from "node:os";
import { initBackend } from "../lib/ml/backend";
import { buildResNet, SMALL_RESNET } from "../lib/ml/models/resnet";
import * as tf from "../lib/ml/tf";

type Result = { predict: number; train: number | null; threads: number };

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function median(step: () => Promise<void>, steps: number): Promise<number> {
  await step();
  await step();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = performance.now();
    await step();
    times.push((performance.now() - t) / 1000);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

/** Measures in this process; FIXLABEL_WASM_THREADS decides the threads. */
async function measure(batch: number, steps: number, trainBatch: number | null): Promise<Result> {
  const choice = await initBackend({ force: "wasm", log: () => {} });
  const c = SMALL_RESNET;
  const model = buildResNet(c);
  const x = tf.randomNormal([batch, c.inputSize, c.inputSize, c.channels]);
  const predictS = await median(async () => {
    const y = model.predict(x) as tf.Tensor;
    await y.data();
    y.dispose();
  }, steps);
  let train: number | null = null;
  if (trainBatch) {
    const xt = tf.randomNormal([trainBatch, c.inputSize, c.inputSize, c.channels]);
    const yt = tf.oneHot(tf.zeros([trainBatch], "int32") as tf.Tensor1D, c.numClasses);
    const opt = tf.train.sgd(0.01);
    const trainS = await median(async () => {
      const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(yt, model.apply(xt, { training: true }) as tf.Tensor) as tf.Scalar, true)!;
      await loss.data();
      loss.dispose();
    }, steps);
    train = trainBatch / trainS;
  }
  return { predict: batch / predictS, train, threads: choice.threads ?? 1 };
}

function child(batch: number, steps: number): Promise<Result> {
  return new Promise((resolve, reject) => {
    const p = fork(process.argv[1], ["--child", `${batch}`, `${steps}`], {
      env: { ...process.env, FIXLABEL_WASM_THREADS: "1" },
      execArgv: process.execArgv,
    });
    p.on("message", (m) => resolve(m as Result));
    p.on("error", reject);
    p.on("exit", (code) => code !== 0 && reject(new Error(`child exited ${code}`)));
  });
}

async function main(): Promise<void> {
  if (process.argv[2] === "--child") {
    const r = await measure(Number(process.argv[3]), Number(process.argv[4]), null);
    process.send!(r);
    return;
  }
  const procs = arg("procs", os.cpus().length);
  const batch = arg("batch", 256);
  const steps = arg("steps", 10);
  const trainBatch = arg("train-batch", 64);
  console.log(`machine: ${os.cpus()[0]?.model}, ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  const perProcess = Math.ceil(batch / procs);
  const results = await Promise.all(Array.from({ length: procs }, () => child(perProcess, steps)));
  const summed = results.reduce((s, r) => s + r.predict, 0);
  console.log(`${procs} processes x 1 thread, ${perProcess} images each: predict ${summed.toFixed(1)} img/s (summed)`);
  process.env.FIXLABEL_WASM_THREADS = `${procs}`;
  const threaded = await measure(batch, steps, trainBatch);
  console.log(`1 process x ${threaded.threads} threads, batch ${batch}: predict ${threaded.predict.toFixed(1)} img/s, train (batch ${trainBatch}) ${threaded.train!.toFixed(1)} img/s`);
  console.log(`reproduce: npx tsx bench/wasm-parallel.ts ${process.argv.slice(2).join(" ")}`.trimEnd());
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
