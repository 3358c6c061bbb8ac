/**
 * BatchNormalization in training mode on wasm: tfjs' own path (moments + FusedBatchNorm and their
 * gradients) against the project's fused kernel (lib/ml/kernels/batch_norm_training.ts), in the
 * same process, on every BatchNorm input shape of the bench model.
 *
 *   FIXLABEL_WASM_THREADS=1 npx tsx bench/bn-grads.ts [--batch 64] [--size 32] [--channels 3] [--width 32] [--repeats 15]
 *
 * forward  = the layer's training-mode call (batch statistics, normalize, moving-average update);
 * fwd+bwd  = that plus the gradients of x, gamma and beta for a given dy.
 * Old and new alternate within each repeat (so drift on a shared machine hits both alike); the
 * figure is the median over repeats, after 2 warm-up rounds. "model" multiplies by how many
 * BatchNorm layers of the bench model have that shape. Both sides run with the project's other
 * wasm kernels (copy-free Identity and Cast, leading-axis reductions), so "old" is already faster
 * than stock tfjs: this isolates what the fused kernel itself gains.
 */
import os from "node:os";
import { parseArgs } from "node:util";
import { initBackend } from "../lib/ml/backend";
import { setFusedBatchNorm } from "../lib/ml/kernels/batch_norm_layer";
import { buildResNet, SMALL_RESNET } from "../lib/ml/models/resnet";
import * as tf from "../lib/ml/tf";

const { values } = parseArgs({
  options: {
    batch: { type: "string", default: "64" },
    size: { type: "string", default: String(SMALL_RESNET.inputSize) },
    channels: { type: "string", default: String(SMALL_RESNET.channels) },
    width: { type: "string", default: String(SMALL_RESNET.width) },
    repeats: { type: "string", default: "15" },
  },
});
const batch = Number(values.batch);
const repeats = Number(values.repeats);
const config = { ...SMALL_RESNET, inputSize: Number(values.size), channels: Number(values.channels), width: Number(values.width) };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** BatchNorm input shapes of the bench model at this batch, with how many layers have each. */
function batchNormShapes(): { shape: number[]; layers: number }[] {
  const model = buildResNet({ ...config, seed: 1 });
  const counts = new Map<string, number>();
  for (const layer of model.layers) {
    if (layer.getClassName() !== "BatchNormalization") continue;
    const key = JSON.stringify([batch, ...(layer.input as tf.SymbolicTensor).shape.slice(1)]);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  model.dispose();
  return [...counts].map(([key, layers]) => ({ shape: JSON.parse(key) as number[], layers }));
}

function timeMs(fn: () => void): number {
  const started = performance.now();
  fn();
  return performance.now() - started;
}

async function main() {
  const choice = await initBackend({ force: "wasm" });
  const rows: string[] = [];
  let totalOld = 0;
  let totalNew = 0;
  for (const { shape, layers } of batchNormShapes()) {
    const layer = tf.layers.batchNormalization({});
    const x = tf.randomNormal(shape, 0.3, 1.5, "float32", 1);
    const dy = tf.randomNormal(shape, 0, 1, "float32", 2);
    layer.apply(x, { training: false }); // builds the weights
    const weights = layer.trainableWeights.map((w) => w.read());
    const forward = () => tf.tidy(() => void layer.apply(x, { training: true }));
    const forwardBackward = () =>
      tf.tidy(() => {
        // wasm kernels run synchronously: the work is done when gradients() returns.
        tf.engine().gradients(() => layer.apply(x, { training: true }) as tf.Tensor, [x, ...weights], dy);
      });
    const times = { oldFwd: [] as number[], newFwd: [] as number[], oldBoth: [] as number[], newBoth: [] as number[] };
    for (let r = -2; r < repeats; r++) {
      setFusedBatchNorm(false);
      const oldFwd = timeMs(forward);
      const oldBoth = timeMs(forwardBackward);
      setFusedBatchNorm(true);
      const newFwd = timeMs(forward);
      const newBoth = timeMs(forwardBackward);
      if (r < 0) continue;
      times.oldFwd.push(oldFwd);
      times.newFwd.push(newFwd);
      times.oldBoth.push(oldBoth);
      times.newBoth.push(newBoth);
    }
    const m = { oldFwd: median(times.oldFwd), newFwd: median(times.newFwd), oldBoth: median(times.oldBoth), newBoth: median(times.newBoth) };
    totalOld += layers * m.oldBoth;
    totalNew += layers * m.newBoth;
    rows.push(
      `[${shape.join(", ")}]`.padEnd(20) +
        String(layers).padStart(7) +
        `${m.oldFwd.toFixed(1)} -> ${m.newFwd.toFixed(1)}`.padStart(18) +
        `${m.oldBoth.toFixed(1)} -> ${m.newBoth.toFixed(1)}`.padStart(20) +
        `${(m.oldBoth / m.newBoth).toFixed(1)}x`.padStart(9),
    );
    tf.dispose([x, dy]);
    layer.dispose();
  }
  setFusedBatchNorm(true);
  console.log(`backend ${choice.name} (${choice.threads} thread${choice.threads === 1 ? "" : "s"}); median of ${repeats} interleaved repeats, ms per layer call, old -> new`);
  console.log(`${"input shape".padEnd(20)}${"layers".padStart(7)}${"forward".padStart(18)}${"fwd+bwd".padStart(20)}${"speedup".padStart(9)}`);
  for (const row of rows) console.log(row);
  console.log(`model (all BatchNorm layers, fwd+bwd): ${totalOld.toFixed(0)} ms -> ${totalNew.toFixed(0)} ms per step (${(totalOld / totalNew).toFixed(1)}x)`);
  console.log(`machine: ${os.cpus()[0]?.model}, ${os.cpus().length} cores, node ${process.version}`);
  console.log(
    `reproduce: FIXLABEL_WASM_THREADS=${process.env.FIXLABEL_WASM_THREADS ?? "<cores>"} npx tsx bench/bn-grads.ts --batch ${batch} --size ${config.inputSize} --channels ${config.channels} --width ${config.width} --repeats ${repeats}`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
