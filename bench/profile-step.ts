/**
 * Where a training step's time goes on the chosen backend: one forward + backward + SGD step of
 * the bench model under tf.profile, kernels summed by name, slowest first.
 *
 *   npx tsx bench/profile-step.ts [--batch 64] [--backend wasm] [--size 32] [--channels 3] [--width 32] [--steps 1]
 *
 * The model is bench/throughput.ts's (SMALL_RESNET); --size, --channels and --width change its
 * input and width, e.g. `--batch 16 --size 28 --channels 1 --width 16` for Fashion-MNIST's run.
 *
 * tf.profile times each kernel as it runs (synchronously on wasm/cpu), so the shares are
 * representative even though profiling itself adds some overhead per kernel.
 * --steps N profiles N steps and prints each kernel's median over them (and the median step), which
 * a machine shared with other work needs: one step's figures can be off by 2x there.
 */
import os from "node:os";
import { parseArgs } from "node:util";
import { initBackend, type BackendName } from "../lib/ml/backend";
import { buildResNet, SMALL_RESNET } from "../lib/ml/models/resnet";
import * as tf from "../lib/ml/tf";

const { values } = parseArgs({
  options: {
    batch: { type: "string", default: "64" },
    backend: { type: "string", default: "wasm" },
    size: { type: "string", default: String(SMALL_RESNET.inputSize) },
    channels: { type: "string", default: String(SMALL_RESNET.channels) },
    width: { type: "string", default: String(SMALL_RESNET.width) },
    steps: { type: "string", default: "1" },
  },
});
const batch = Number(values.batch);
const steps = Number(values.steps);
if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps ${values.steps} must be a positive integer`);

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
const config = { ...SMALL_RESNET, inputSize: Number(values.size), channels: Number(values.channels), width: Number(values.width) };

async function main() {
  const choice = await initBackend({ force: values.backend as BackendName });
  const model = buildResNet({ ...config, seed: 1 });
  const optimizer = tf.train.sgd(0.01);
  const x = tf.randomUniform([batch, config.inputSize, config.inputSize, config.channels]);
  const y = tf.oneHot(tf.randomUniform([batch], 0, config.numClasses, "int32") as tf.Tensor1D, config.numClasses);
  const step = () =>
    tf.tidy(() => {
      optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar);
    });
  for (let i = 0; i < 2; i++) step(); // warm-up: kernel compilation, allocations
  const walls: number[] = [];
  const perStep: Map<string, { ms: number; calls: number }>[] = [];
  let kernelCalls = 0;
  for (let i = 0; i < steps; i++) {
    const started = performance.now();
    const info = await tf.profile(step);
    walls.push(performance.now() - started);
    kernelCalls = info.kernels.length;
    const byKernel = new Map<string, { ms: number; calls: number }>();
    for (const k of info.kernels) {
      const ms = typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
      const entry = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
      entry.ms += ms;
      entry.calls += 1;
      byKernel.set(k.name, entry);
    }
    perStep.push(byKernel);
  }
  const names = new Set(perStep.flatMap((m) => [...m.keys()]));
  const summary = [...names].map((name) => ({
    name,
    ms: median(perStep.map((m) => m.get(name)?.ms ?? 0)),
    calls: perStep[0].get(name)?.calls ?? 0,
  }));
  const total = summary.reduce((s, e) => s + e.ms, 0);
  const of = steps > 1 ? `median of ${steps} steps: ` : "";
  console.log(`backend ${choice.name}; batch ${batch}; ${of}one step ${median(walls).toFixed(0)} ms wall, ${total.toFixed(0)} ms in ${kernelCalls} kernel calls`);
  console.log("kernel                          calls     ms   share");
  for (const e of summary.sort((a, b) => b.ms - a.ms).slice(0, 20)) {
    console.log(`${e.name.padEnd(30)} ${String(e.calls).padStart(6)} ${e.ms.toFixed(1).padStart(7)} ${((100 * e.ms) / total).toFixed(1).padStart(6)}%`);
  }
  console.log(`machine: ${os.cpus()[0]?.model}, ${os.cpus().length} cores, node ${process.version}`);
  console.log(`model: resnet width ${config.width}, ${config.inputSize}x${config.inputSize}x${config.channels}`);
  console.log(`reproduce: npx tsx bench/profile-step.ts --batch ${batch} --backend ${values.backend} --size ${config.inputSize} --channels ${config.channels} --width ${config.width} --steps ${steps}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
