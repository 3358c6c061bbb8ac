/**
 * Where the time of the view-feature pass goes (issue 12, item 3): per phase of drawing the K weak +
 * K strong views of an image and running MobileNetV2 (real architecture, random weights) on them.
 *
 *   npx tsx bench/views-profile.ts [--images 16] [--views 4] [--size 224]
 *
 * Phases, each timed on its own over the same images (wasm runs kernels synchronously, and every
 * phase ends with a read-back, so wall time is the kernels' time): JPEG decode + resize (sharp),
 * uint8 -> [0, 1], tile to K copies, weak flip+shift, each RandAugment op on a batch of K, Cutout,
 * preprocessing, the forward pass at several chunk sizes, and the feature file writes.
 * Then the whole views pass end to end, rounds alternating so that load from other processes hits
 * both alike: "one image at a time" (what lib/ml/features did before: drawViews per image, i.e.
 * tile to K copies + weakAugment + strongAugment, then one forward pass per chunk of 32 views) and
 * "batched" (extractViewFeatures as it is now: drawViewBatch over the batch, decoding the next
 * batch during the forward pass, BatchNormalization folded into the convolutions), each over
 * --images fresh images (nothing cached) per round.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import sharp from "sharp";
import { applyCutout, applyOp, DEFAULT_POLICY, drawCutoutBox, STRONG_OP_NAMES, weakAugment } from "../lib/ml/augment";
import { initBackend } from "../lib/ml/backend";
import { cutAndPool } from "../lib/ml/backbones";
import type { LoadedBackbone } from "../lib/ml/backbones/types";
import { MOBILENET_V2_PREPROCESSING } from "../lib/ml/backbones/sources";
import { drawViewBatch, drawViews, extractViewFeatures, type FeatureImage } from "../lib/ml/features";
import { foldBatchNorms } from "../lib/ml/fold-batchnorm";
import { buildMobileNetV2, MOBILENET_V2_CUT_LAYER } from "../lib/ml/models/mobilenetv2";
import { decodeImage } from "../lib/ml/pixels";
import { Rng } from "../lib/ml/rng";
import { seededValues } from "../lib/ml/testing";
import * as tf from "../lib/ml/tf";

const { values } = parseArgs({
  options: {
    images: { type: "string", default: "16" },
    views: { type: "string", default: "4" },
    size: { type: "string", default: "224" },
    rounds: { type: "string", default: "2" },
    "forward-chunk": { type: "string", default: "" },
  },
});
const N = Number(values.images);
const K = Number(values.views);
const S = Number(values.size);

const ms = (since: number) => performance.now() - since;

/** Runs fn over every image and returns ms per image; fn's tensors are read back and freed. */
function timePerImage(fn: (i: number) => tf.Tensor | null): number {
  const t = performance.now();
  for (let i = 0; i < N; i++) {
    const out = fn(i);
    if (out) {
      out.dataSync();
      out.dispose();
    }
  }
  return ms(t) / N;
}

async function main() {
  const backend = await initBackend({ log: () => {} });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-views-profile-"));
  const rows: [string, number][] = [];

  const photos: string[] = [];
  for (let i = 0; i < N; i++) {
    const noise = seededValues(640 * 480 * 3, i + 1);
    const raw = Buffer.from(Uint8Array.from(noise, (v) => Math.round(127.5 + 120 * v)));
    const file = path.join(work, `p${i}.jpg`);
    await sharp(raw, { raw: { width: 640, height: 480, channels: 3 } }).jpeg({ quality: 85 }).toFile(file);
    photos.push(file);
  }
  let t = performance.now();
  const pixels = await Promise.all(photos.map((p) => decodeImage(p, S, 3)));
  rows.push(["decode + resize (sharp, 640x480 JPEG, all images at once)", ms(t) / N]);

  const frame = S * S * 3;
  const unit = (i: number) => {
    const f = new Float32Array(frame);
    for (let j = 0; j < frame; j++) f[j] = pixels[i][j] / 255;
    return tf.tensor4d(f, [1, S, S, 3]);
  };
  rows.push(["uint8 -> [0,1] tensor", timePerImage(unit)]);
  const copies = pixels.map((_, i) => tf.tidy(() => tf.tile(unit(i), [K, 1, 1, 1]) as tf.Tensor4D));
  rows.push(["tile to K copies", timePerImage((i) => tf.tile(tf.slice(copies[i], [0], [1]), [K, 1, 1, 1]))]);
  rows.push(["weak flip+shift (K)", timePerImage((i) => weakAugment(copies[i], new Rng(i), DEFAULT_POLICY))]);
  rows.push(["strong flip+shift (K)", timePerImage((i) => weakAugment(copies[i], new Rng(i + 1000), DEFAULT_POLICY))]);
  const opRows: [string, number][] = [];
  for (const op of STRONG_OP_NAMES) {
    const rng = new Rng(5);
    const { range } = { range: [0.1, 0.9] };
    const magnitudes = Array.from({ length: K }, () => (op === "Posterize" ? 5 : rng.uniform(range[0], range[1])));
    opRows.push([`  op ${op} (K)`, timePerImage((i) => applyOp(op, copies[i], magnitudes))]);
  }
  const meanOp = opRows.reduce((s, [, v]) => s + v, 0) / opRows.length;
  rows.push([`RandAugment: mean op (K) x ${DEFAULT_POLICY.opsPerImage} slots (+ group gathers, not timed)`, meanOp * DEFAULT_POLICY.opsPerImage]);
  rows.push(...opRows);
  rows.push(["cutout (K)", timePerImage((i) => applyCutout(copies[i], Array.from({ length: K }, () => drawCutoutBox(S, S, 0.5, new Rng(i)))))]);
  rows.push(["concat weak+strong + preprocess (2K)", timePerImage((i) => tf.tidy(() => tf.add(tf.mul(tf.concat([copies[i], copies[i]]), 255 / 127.5), -1)))]);

  const full = buildMobileNetV2({ alpha: 1, inputSize: S, seed: 1 });
  const extractor = cutAndPool(full, MOBILENET_V2_CUT_LAYER);
  const batch = tf.tidy(() => tf.concat(copies.flatMap((c) => [c, c])) as tf.Tensor4D); // N * 2K views
  tf.tidy(() => (extractor.predict(tf.slice(batch, [0], [8])) as tf.Tensor).dataSync()); // warm-up
  const forwardRows: [string, number][] = [];
  for (const chunk of [8, 16, 32, 64]) {
    const n = Math.min(batch.shape[0], Math.max(chunk, 64));
    t = performance.now();
    const cpu = process.cpuUsage();
    for (let s = 0; s < n; s += chunk) tf.tidy(() => (extractor.predict(tf.slice(batch, [s], [Math.min(chunk, n - s)])) as tf.Tensor).dataSync());
    // CPU time of all threads: less swayed than wall time when other processes share the cores.
    const used = process.cpuUsage(cpu);
    forwardRows.push([`  forward chunk ${chunk}: per image (${2 * K} views; CPU ${(((used.user + used.system) / 1000 / n) * 2 * K).toFixed(0)} ms)`, (ms(t) / n) * 2 * K]);
  }
  // The same forward pass with the BatchNormalizations folded into the convolutions (what extraction runs now).
  const folded = foldBatchNorms(extractor);
  tf.tidy(() => (folded.predict(tf.slice(batch, [0], [8])) as tf.Tensor).dataSync()); // warm-up
  for (const chunk of [16, 32]) {
    const n = Math.min(batch.shape[0], 64);
    t = performance.now();
    const cpu = process.cpuUsage();
    for (let s = 0; s < n; s += chunk) tf.tidy(() => (folded.predict(tf.slice(batch, [s], [Math.min(chunk, n - s)])) as tf.Tensor).dataSync());
    const used = process.cpuUsage(cpu);
    forwardRows.push([`  forward chunk ${chunk}, BatchNorm folded: per image (${2 * K} views; CPU ${(((used.user + used.system) / 1000 / n) * 2 * K).toFixed(0)} ms)`, (ms(t) / n) * 2 * K]);
  }
  rows.push(["forward, best chunk (2K views)", Math.min(...forwardRows.map(([, v]) => v))]);
  rows.push(...forwardRows);

  t = performance.now();
  for (let i = 0; i < N; i++) fs.writeFileSync(path.join(work, `f${i}.f32`), Buffer.alloc(2 * K * 1280 * 4));
  rows.push(["feature file write", ms(t) / N]);

  // End to end, old against new, alternating rounds.
  const backbone: LoadedBackbone = { id: "mobilenet-v2-random", ref: { kind: "mobilenet-v2", alpha: "1.00" }, preprocessing: MOBILENET_V2_PREPROCESSING, featureDim: 1280, extractor };
  const spec = { policy: DEFAULT_POLICY, k: K, seed: 0 };
  const featureImages = (round: number): FeatureImage[] =>
    photos.map((p, i) => ({ sha256: createHash("sha256").update(`${round}-${i}`).digest("hex"), load: () => decodeImage(p, S, 3) }));
  const oneAtATime = async (imgs: FeatureImage[], dir: string) => {
    fs.mkdirSync(dir, { recursive: true });
    for (let start = 0; start < imgs.length; start += 16) {
      const chunk = imgs.slice(start, start + 16);
      const decoded = await Promise.all(chunk.map(async (img) => ({ sha256: img.sha256, pixels: await img.load() })));
      const input = tf.tidy(() => tf.concat(decoded.map((d) => drawViews(d.pixels, d.sha256, backbone, spec))) as tf.Tensor4D);
      const out = new Float32Array(input.shape[0] * 1280);
      for (let s = 0; s < input.shape[0]; s += 32) {
        const f = tf.tidy(() => extractor.predict(tf.slice(input, [s], [Math.min(32, input.shape[0] - s)])) as tf.Tensor);
        out.set(f.dataSync(), s * 1280);
        f.dispose();
      }
      input.dispose();
      for (const [i, img] of chunk.entries()) fs.writeFileSync(path.join(dir, `${img.sha256}.f32`), Buffer.from(out.buffer, i * 2 * K * 1280 * 4, 2 * K * 1280 * 4));
    }
  };
  // The views alone (no forward pass: the part that changed), old against new, same images.
  const decodedAll = pixels.map((p, i) => ({ pixels: p, sha256: createHash("sha256").update(`aug-${i}`).digest("hex") }));
  const augOnly: Record<"one image at a time" | "batched", { wall: number[]; cpu: number[] }> = { "one image at a time": { wall: [], cpu: [] }, batched: { wall: [], cpu: [] } };
  for (let round = 0; round < 2 * Number(values.rounds); round++) {
    for (const mode of round % 2 === 0 ? (["one image at a time", "batched"] as const) : (["batched", "one image at a time"] as const)) {
      t = performance.now();
      const cpu = process.cpuUsage();
      for (let start = 0; start < N; start += 16) {
        const chunk = decodedAll.slice(start, start + 16);
        const views = mode === "batched" ? drawViewBatch(chunk, backbone, spec) : tf.tidy(() => tf.concat(chunk.map((d) => drawViews(d.pixels, d.sha256, backbone, spec))) as tf.Tensor4D);
        views.dataSync();
        views.dispose();
      }
      const used = process.cpuUsage(cpu);
      augOnly[mode].wall.push(ms(t) / N);
      augOnly[mode].cpu.push((used.user + used.system) / 1000 / N);
    }
  }
  const forwardChunk = values["forward-chunk"] ? Number(values["forward-chunk"]) : undefined;
  const rates: Record<"one image at a time" | "batched", number[]> = { "one image at a time": [], batched: [] };
  const cpuPerImage: Record<"one image at a time" | "batched", number[]> = { "one image at a time": [], batched: [] };
  for (let round = 0; round < Number(values.rounds); round++) {
    const modes = round % 2 === 0 ? (["one image at a time", "batched"] as const) : (["batched", "one image at a time"] as const);
    for (const mode of modes) {
      const imgs = featureImages(round * 2 + (mode === "batched" ? 1 : 0));
      const dir = path.join(work, `features-${round}-${mode.length}`);
      t = performance.now();
      const cpu = process.cpuUsage();
      if (mode === "batched") await extractViewFeatures({ backbone, images: imgs, dir, views: spec, forwardChunk });
      else await oneAtATime(imgs, dir);
      const used = process.cpuUsage(cpu);
      rates[mode].push(N / (ms(t) / 1000));
      cpuPerImage[mode].push((used.user + used.system) / 1000 / N);
    }
  }

  const total = rows.filter(([name]) => !name.startsWith("  ")).reduce((s, [, v]) => s + v, 0);
  for (const [name, v] of rows) console.log(`${name.padEnd(72)} ${v.toFixed(1).padStart(8)} ms/image${name.startsWith("  ") ? "" : `  ${((100 * v) / total).toFixed(0).padStart(3)}%`}`);
  console.log(`sum of phases: ${total.toFixed(0)} ms/image = ${(1000 / total).toFixed(2)} images/s`);
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  for (const [mode, { wall, cpu }] of Object.entries(augOnly)) console.log(`drawing the ${2 * K} views, ${mode}: median ${median(wall).toFixed(1)} ms/image wall, ${median(cpu).toFixed(1)} ms/image CPU (${wall.length} rounds)`);
  for (const [mode, r] of Object.entries(rates) as [keyof typeof rates, number[]][]) {
    console.log(`views pass end to end, ${mode}: ${r.map((v) => v.toFixed(2)).join(", ")} images/s (rounds), median ${median(r).toFixed(2)}; CPU ${median(cpuPerImage[mode]).toFixed(0)} ms/image (median)`);
  }
  const cpus = os.cpus();
  console.log(`machine: ${cpus.length} x ${cpus[0]?.model.trim()}, backend ${backend.name} (${backend.reason})`);
  console.log(`reproduce: npx tsx bench/views-profile.ts --images ${N} --views ${K} --size ${S} --rounds ${values.rounds}${values["forward-chunk"] ? ` --forward-chunk ${values["forward-chunk"]}` : ""}`);
  fs.rmSync(work, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
