/**
 * How fast a frozen MobileNetV2 gets a user to proposals on this machine's backend (issue 12).
 * MobileNetV2 of the real architecture (lib/ml/models/mobilenetv2.ts, Keras' layers), random
 * weights: speed does not depend on the weights.
 *
 *   npx tsx bench/backbone-speed.ts [--alpha 1.0] [--pool 1200] [--views-sample 32] [--views 4]
 *
 * Measured, through the app's own functions (lib/ml/features):
 *   - building the backbone (stands in for loading cached weights; the download is not timed);
 *   - plain features of --pool images at 224 px, each decoded by sharp from a 640x480 JPEG as the
 *     app decodes photos (decodeImage), batch 16: images/s;
 *   - the instant heads: linear probe + class mean on 4 labels/class (5 classes) and their
 *     predictions over the pool;
 *   - K weak + K strong view features of --views-sample images: images/s for the views pass.
 * Time from Train to first proposals = build + plain features + instant heads (measured for
 * --pool); for 20,000 images it is EXTRAPOLATED from the measured rates (printed as such), as is
 * the views pass for the whole pool. Database writes of the predictions are not included.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import sharp from "sharp";
import { DEFAULT_POLICY } from "../lib/ml/augment";
import { initBackend } from "../lib/ml/backend";
import { cutAndPool } from "../lib/ml/backbones";
import { MOBILENET_V2_PREPROCESSING } from "../lib/ml/backbones/sources";
import type { LoadedBackbone } from "../lib/ml/backbones/types";
import { classMeanHead, extractPlainFeatures, extractViewFeatures, fitStandardizer, headProbs, standardize, trainLinearProbe, type FeatureImage } from "../lib/ml/features";
import { buildMobileNetV2, MOBILENET_V2_CUT_LAYER } from "../lib/ml/models/mobilenetv2";
import { decodeImage } from "../lib/ml/pixels";
import { seededValues } from "../lib/ml/testing";

const { values } = parseArgs({
  options: {
    alpha: { type: "string", default: "1.0" },
    pool: { type: "string", default: "1200" },
    "views-sample": { type: "string", default: "32" },
    views: { type: "string", default: "4" },
  },
});

const seconds = (since: number) => (performance.now() - since) / 1000;

/** `count` distinct 640x480 JPEG photos' stand-ins: smooth colour fields with noise, on disk. */
async function makePhotos(dir: string, count: number): Promise<string[]> {
  const files: string[] = [];
  const w = 640;
  const h = 480;
  for (let i = 0; i < count; i++) {
    const noise = seededValues(w * h * 3, i + 1);
    const pixels = Buffer.alloc(w * h * 3);
    for (let p = 0; p < w * h; p++) {
      const x = p % w;
      const y = Math.floor(p / w);
      for (let c = 0; c < 3; c++) pixels[p * 3 + c] = Math.max(0, Math.min(255, Math.round(128 + 80 * Math.sin((x * (c + 1) + y * (i + 1)) / 60) + 30 * noise[p * 3 + c])));
    }
    const file = path.join(dir, `photo-${i}.jpg`);
    await sharp(pixels, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 85 }).toFile(file);
    files.push(file);
  }
  return files;
}

async function main() {
  const backend = await initBackend({ log: () => {} });
  const poolSize = Number(values.pool);
  const k = Number(values.views);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-speed-"));
  // 50 distinct JPEGs, each standing in for many pool images (their cache keys differ, so each is
  // decoded and run through the backbone as a separate image).
  const photos = await makePhotos(work, 50);
  const images = (n: number, tag: string): FeatureImage[] =>
    Array.from({ length: n }, (_, i) => ({
      sha256: createHash("sha256").update(`${tag}-${i}`).digest("hex"),
      load: () => decodeImage(photos[i % photos.length], 224, 3),
    }));

  let t = performance.now();
  const full = buildMobileNetV2({ alpha: Number(values.alpha), inputSize: 224, seed: 1 });
  const extractor = cutAndPool(full, MOBILENET_V2_CUT_LAYER);
  const backbone: LoadedBackbone = { id: `mobilenet-v2-random-${values.alpha}`, ref: { kind: "mobilenet-v2", alpha: "1.00" }, preprocessing: MOBILENET_V2_PREPROCESSING, featureDim: extractor.outputs[0].shape[1] as number, extractor };
  const buildS = seconds(t);
  console.log(`MobileNetV2 alpha ${values.alpha} (${full.countParams().toLocaleString("en")} weights, ${backbone.featureDim} features) built in ${buildS.toFixed(1)} s`);

  // Warm-up batch (kernel compilation, first allocations), not counted.
  await extractPlainFeatures({ backbone, images: images(8, "warm"), dir: path.join(work, "features") });

  t = performance.now();
  let lastLog = 0;
  const plain = await extractPlainFeatures({
    backbone,
    images: images(poolSize, "pool"),
    dir: path.join(work, "features"),
    onProgress: (p) => {
      if (performance.now() - lastLog > 20_000) {
        lastLog = performance.now();
        console.log(`  plain features ${p.done}/${p.total} (${p.imagesPerS.toFixed(1)} images/s)`);
      }
    },
  });
  const plainS = seconds(t);
  const plainRate = poolSize / plainS;
  console.log(`plain features: ${poolSize} images (decode + 224 px forward) in ${plainS.toFixed(1)} s = ${plainRate.toFixed(1)} images/s`);

  t = performance.now();
  const dim = backbone.featureDim;
  const st = fitStandardizer(plain, dim);
  const z = standardize(plain, st);
  const labeled = { rows: Array.from({ length: 20 }, (_, i) => i), classes: Array.from({ length: 20 }, (_, i) => i % 5) };
  const probe = trainLinearProbe(z, dim, 5, labeled);
  const mean = classMeanHead(z, dim, 5, labeled);
  const fitS = seconds(t);
  t = performance.now();
  headProbs(probe, z, dim);
  headProbs(mean, z, dim);
  const predictS = seconds(t);
  const headsS = fitS + predictS;
  console.log(`instant heads (probe 300 steps + class mean + predictions of ${poolSize}): ${headsS.toFixed(1)} s`);

  const sample = Number(values["views-sample"]);
  t = performance.now();
  await extractViewFeatures({ backbone, images: images(sample, "views"), dir: path.join(work, "features"), views: { policy: DEFAULT_POLICY, k, seed: 0 } });
  const viewsRate = sample / seconds(t);
  console.log(`views: ${k} weak + ${k} strong per image, ${sample} images: ${viewsRate.toFixed(2)} images/s (${(viewsRate * 2 * k).toFixed(1)} views/s)`);

  const firstProposals = buildS + plainS + headsS;
  // Standardising and predicting scale with the pool; fitting the heads on 20 labels does not.
  const extrapolated = buildS + 20_000 / plainRate + fitS + (predictS * 20_000) / poolSize;
  const cpus = os.cpus();
  console.log(`\nTrain -> first proposals, ${poolSize} images: ${(firstProposals / 60).toFixed(1)} min MEASURED (build ${buildS.toFixed(0)} s + features ${plainS.toFixed(0)} s + heads ${headsS.toFixed(0)} s)`);
  console.log(`Train -> first proposals, 20,000 images: ${(extrapolated / 60).toFixed(1)} min EXTRAPOLATED from ${plainRate.toFixed(1)} images/s`);
  console.log(`views pass (then the FixMatch head): ${poolSize} images ${((poolSize / viewsRate) / 60).toFixed(1)} min, 20,000 images ${((20_000 / viewsRate) / 60).toFixed(1)} min, EXTRAPOLATED from ${sample} images`);
  console.log(`machine: ${cpus.length} x ${cpus[0]?.model.trim()}, backend ${backend.name} (${backend.reason})`);
  console.log(`reproduce: npx tsx bench/backbone-speed.ts --alpha ${values.alpha} --pool ${values.pool} --views-sample ${values["views-sample"]} --views ${values.views}`);
  fs.rmSync(work, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
