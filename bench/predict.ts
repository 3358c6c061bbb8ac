/**
 * Single-image prediction latency in the web process: `npx tsx bench/predict.ts`.
 * Prints the cost of importing tfjs (paid once, by the first prediction in the web server), then,
 * for each preset's model (random weights: the time does not depend on them; 10 classes, RGB),
 * predictImage (what POST /api/projects/:id/predict calls) on a 1600x1200 JPEG like a phone photo:
 * the first call (backend start + model load + warm-up) and 20 warm calls (median, p95), with the
 * decode (sharp: EXIF rotate, resize) apart from the forward pass.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import type { PresetName } from "@/lib/ml/presets";
import { forgetLoadedModels, predictImage } from "@/lib/ml/predict-image";

const PRESETS_TO_TIME: PresetName[] = ["quick-cpu", "fixmatch-paper"];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(0.95 * xs.length) - 1];

async function main() {
  const importStart = performance.now();
  await import("@/lib/ml/image-predictor");
  console.log(`import tfjs (core, layers, cpu, wasm): ${(performance.now() - importStart).toFixed(0)} ms`);

  const { initBackend } = await import("@/lib/ml/backend");
  await initBackend({ force: "wasm", log: () => {} });
  const { saveCheckpoint } = await import("@/lib/ml/checkpoint");
  const { readWeights } = await import("@/lib/ml/ema");
  const { PRESETS } = await import("@/lib/ml/presets");
  const { buildModel } = await import("@/lib/ml/models");
  const { DEFAULT_TRAIN_CONFIG } = await import("@/lib/ml/config");
  const photo = await sharp({ create: { width: 1600, height: 1200, channels: 3, background: "#808080", noise: { type: "gaussian", mean: 128, sigma: 40 } } }).jpeg().toBuffer();

  for (const preset of PRESETS_TO_TIME) {
    const config = { ...DEFAULT_TRAIN_CONFIG, ...PRESETS[preset], channels: 3 as const, numClasses: 10 };
    const model = buildModel(config);
    const weights = readWeights(model);
    model.dispose();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `fixlabel-bench-predict-${preset}-`));
    await saveCheckpoint(dir, { meta: { step: 0, config }, arrays: { model: weights, ema: weights, optimizer: [] } });

    const start = performance.now();
    const first = await predictImage(dir, photo);
    const firstMs = performance.now() - start;
    const total: number[] = [];
    const decode: number[] = [];
    const forward: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      const r = await predictImage(dir, photo);
      total.push(performance.now() - t);
      decode.push(r.timing.decodeMs);
      forward.push(r.timing.predictMs);
    }
    console.log(
      `${preset} (${config.inputSize}px): first call ${firstMs.toFixed(0)} ms (model load + warm-up ${first.timing.loadMs.toFixed(0)} ms); ` +
        `warm: total median ${median(total).toFixed(1)} ms, p95 ${p95(total).toFixed(1)} ms; decode median ${median(decode).toFixed(1)} ms, ` +
        `forward median ${median(forward).toFixed(1)} ms (${first.backend})`,
    );
    fs.rmSync(dir, { recursive: true, force: true });
  }
  await forgetLoadedModels();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
