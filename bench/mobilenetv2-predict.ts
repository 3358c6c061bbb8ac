/**
 * MobileNetV2 feature extraction speed (forward pass to `out_relu` + global average pooling, the
 * backbone path) at 224 px, on each tfjs backend asked for: the figure behind choosing webgpu for
 * forward passes where a GPU adapter exists.
 *
 *   npx tsx bench/mobilenetv2-predict.ts [--backends webgpu,wasm] [--batch 64] [--steps 10]
 *       [--wasm-batch 16] [--wasm-steps 3] [--alpha 1.0]
 *
 * Figures are images/s of the median batch after one warm-up batch, folded (as the app runs it) and
 * unfolded, alternating; random weights (the speed does not depend on them). A backend that cannot load is reported with the reason and skipped.
 * On a machine without Node.js it runs as an esbuild bundle (scripts/gpu-bench-bundle.sh).
 */
import os from "node:os";
import { initBackend, type BackendName } from "../lib/ml/backend";
import { foldBatchNorms } from "../lib/ml/fold-batchnorm";
import { buildMobileNetV2 } from "../lib/ml/models/mobilenetv2";
import * as tf from "../lib/ml/tf";

type Options = { backends: BackendName[]; batch: number; steps: number; wasmBatch: number; wasmSteps: number; alpha: number };

function parseOptions(argv: string[]): Options {
  const opts: Options = { backends: ["webgpu", "wasm"], batch: 64, steps: 10, wasmBatch: 16, wasmSteps: 3, alpha: 1.0 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === "--backends") opts.backends = value.split(",") as BackendName[];
    else if (flag === "--alpha") opts.alpha = Number(value);
    else if (["--batch", "--steps", "--wasm-batch", "--wasm-steps"].includes(flag)) {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer`);
      const key = flag.slice(2).replace(/-(\w)/g, (_, c: string) => c.toUpperCase()) as "batch" | "steps" | "wasmBatch" | "wasmSteps";
      opts[key] = n;
    } else throw new Error(`unknown option ${flag}`);
  }
  return opts;
}

/**
 * Median images/s of `steps` forward passes of `batch` images, after one warm-up pass, of the
 * network as built (unfolded) and of the copy the app's feature extraction runs (each
 * BatchNormalization folded into its convolution, lib/ml/fold-batchnorm.ts), alternating.
 */
async function measureMobileNetV2Forward(alpha: number, batch: number, steps: number): Promise<{ unfolded: number; folded: number }> {
  const backbone = buildMobileNetV2({ alpha, inputSize: 224, seed: 1 });
  const folded = foldBatchNorms(backbone);
  const images = tf.randomUniform([batch, 224, 224, 3], -1, 1);
  const forward = async (model: tf.LayersModel) => {
    const t = performance.now();
    const features = tf.tidy(() => tf.mean(model.predict(images) as tf.Tensor4D, [1, 2]));
    await features.data(); // asynchronous backends (webgpu) finish here
    features.dispose();
    return (performance.now() - t) / 1000;
  };
  await forward(backbone);
  await forward(folded);
  const times = { unfolded: [] as number[], folded: [] as number[] };
  for (let i = 0; i < steps; i++) {
    times.unfolded.push(await forward(backbone));
    times.folded.push(await forward(folded));
  }
  images.dispose();
  if (folded !== backbone) folded.dispose();
  backbone.dispose();
  const rate = (t: number[]) => batch / t.sort((a, b) => a - b)[Math.floor(t.length / 2)];
  return { unfolded: rate(times.unfolded), folded: rate(times.folded) };
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const cpus = os.cpus();
  console.log(`machine: ${cpus[0]?.model ?? "unknown cpu"}, ${cpus.length} cores; node ${process.version}; tfjs ${tf.version_core}`);
  for (const name of opts.backends) {
    const choice = await initBackend({ force: name, purpose: "forward", log: (l) => console.log(l) }).catch((e: Error) => e);
    if (choice instanceof Error) {
      console.log(`MobileNetV2 ${opts.alpha} @224 forward on ${name}: skipped: ${choice.message}`);
      continue;
    }
    const wasm = name === "wasm" || name === "cpu";
    const batch = wasm ? opts.wasmBatch : opts.batch;
    const steps = wasm ? opts.wasmSteps : opts.steps;
    const rate = await measureMobileNetV2Forward(opts.alpha, batch, steps);
    const threads = choice.threads !== undefined ? `, ${choice.threads} threads` : "";
    console.log(
      `RESULT MobileNetV2 ${opts.alpha} @224 forward on ${name}${threads}: ${rate.folded.toFixed(1)} images/s as the app runs it (BatchNorm folded), ` +
        `${rate.unfolded.toFixed(1)} unfolded (batch ${batch}, median of ${steps})`,
    );
  }
  console.log(`reproduce: npx tsx bench/mobilenetv2-predict.ts ${process.argv.slice(2).join(" ")}`.trimEnd());
}

// Exits explicitly: the threaded wasm backend's worker threads would keep the process alive.
main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
