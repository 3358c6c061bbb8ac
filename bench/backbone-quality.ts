/**
 * Quality of a pretrained backbone on YOUR photos, for whoever has the weights (this project's
 * machines cannot download ImageNet weights):
 *
 *   npx tsx bench/backbone-quality.ts --backbone <model folder> --data <ImageFolder dir>
 *     [--cut out_relu] [--size 224] [--scale 0.00784313725] [--offset -1] [--seeds 3]
 *     [--labels 4] [--views 4] [--minutes 2] [--threshold 0.95]
 *
 * --backbone: a tfjs layers model folder (model.json + shards), e.g. what
 * `npm run backbone:fetch -- --alpha 1.00` writes; the defaults (cut at out_relu, 224 px, x/127.5-1)
 * are MobileNetV2's. --data: <class>/<image files>, as ImageFolder; the folder labels are the truth.
 * Per seed, --labels images per class are the labels and every image is in the pool; printed per
 * head (linear probe, class mean, FixMatch head on cached views): accuracy on the pool's unlabeled
 * images, how many proposals have confidence >= tau and how many of those are right (precision).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_POLICY } from "../lib/ml/augment";
import { initBackend } from "../lib/ml/backend";
import { loadBackbone } from "../lib/ml/backbones";
import type { BackboneRef } from "../lib/ml/backbones/types";
import { decodeImage } from "../lib/ml/pixels";
import { hashFile } from "../lib/storage";
import { drawLabels, formatScore, median, poolFeatures, scoreHeads, type HeadsResult } from "./backbone-common";

const IMAGE = /\.(jpe?g|png|webp|gif|tiff?|avif)$/i;

export type QualityOptions = {
  backbone: string;
  data: string;
  cut: string;
  size: number;
  scale: number;
  offset: number;
  seeds: number;
  labels: number;
  views: number;
  minutes: number;
  threshold: number;
  log?: (line: string) => void;
};

export type QualityReport = { classes: string[]; images: number; perSeed: HeadsResult[]; median: Record<keyof HeadsResult, { poolAcc: number; passing: number; precision: number | null }> };

export async function runQuality(opts: QualityOptions): Promise<QualityReport> {
  const log = opts.log ?? console.log;
  const classes = fs
    .readdirSync(opts.data, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  if (classes.length < 2) throw new Error(`${opts.data}: expected an ImageFolder (<class>/<images>) with 2 or more class folders, found ${classes.length}`);
  const files: { file: string; label: number }[] = [];
  classes.forEach((name, label) => {
    for (const f of fs.readdirSync(path.join(opts.data, name)).filter((f) => IMAGE.test(f)).sort()) files.push({ file: path.join(opts.data, name, f), label });
  });
  const truth = Uint8Array.from(files, (f) => f.label);
  const ref: BackboneRef = { kind: "custom", source: path.resolve(opts.backbone), cutLayer: opts.cut, preprocessing: { inputSize: opts.size, channels: 3, scale: opts.scale, offset: opts.offset } };
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-quality-"));
  try {
    const backbone = await loadBackbone(ref, { dataDir: work });
    log(`backbone ${opts.backbone} cut at ${opts.cut}: ${backbone.featureDim} features; data ${files.length} images in ${classes.length} classes`);
    const images = await Promise.all(files.map(async (f) => ({ sha256: await hashFile(f.file), load: () => decodeImage(f.file, opts.size, 3) })));
    const features = await poolFeatures(backbone, images, path.join(work, "features"), DEFAULT_POLICY, opts.views, log);
    const perSeed: HeadsResult[] = [];
    for (let seed = 1; seed <= opts.seeds; seed++) {
      const labeled = drawLabels(truth, classes.length, opts.labels, seed);
      const result = await scoreHeads({ features, truth, numClasses: classes.length, labeled, tau: opts.threshold, seed, budgetS: opts.minutes * 60, head: { threshold: opts.threshold }, workDir: work });
      perSeed.push(result);
      log(`seed ${seed}`);
      for (const [name, s] of Object.entries(result)) log(`  ${formatScore(name, s)}`);
    }
    const names = ["linear-probe", "class-mean", "fixmatch"] as const;
    const summary = Object.fromEntries(
      names.map((name) => {
        const list = perSeed.map((r) => r[name]);
        const precisions = list.filter((s) => s.passing > 0).map((s) => s.right / s.passing);
        return [name, { poolAcc: median(list.map((s) => s.poolAcc)), passing: median(list.map((s) => s.passing)), precision: precisions.length ? median(precisions) : null }];
      }),
    ) as QualityReport["median"];
    for (const name of names) {
      const m = summary[name];
      log(`${name.padEnd(14)} median pool accuracy ${(100 * m.poolAcc).toFixed(1)}%  median above tau ${m.passing}  precision there ${m.precision === null ? "-" : `${(100 * m.precision).toFixed(1)}%`}`);
    }
    backbone.extractor.dispose();
    return { classes, images: files.length, perSeed, median: summary };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function cli() {
  const { values } = parseArgs({
    options: {
      backbone: { type: "string" },
      data: { type: "string" },
      cut: { type: "string", default: "out_relu" },
      size: { type: "string", default: "224" },
      scale: { type: "string", default: String(1 / 127.5) },
      offset: { type: "string", default: "-1" },
      seeds: { type: "string", default: "3" },
      labels: { type: "string", default: "4" },
      views: { type: "string", default: "4" },
      minutes: { type: "string", default: "2" },
      threshold: { type: "string", default: "0.95" },
    },
  });
  if (!values.backbone || !values.data) {
    console.error("usage: npx tsx bench/backbone-quality.ts --backbone <tfjs layers model folder> --data <ImageFolder dir> [--cut out_relu] [--size 224] [--seeds 3]");
    process.exit(2);
  }
  return { values, options: { ...values, backbone: values.backbone, data: values.data, cut: values.cut!, size: Number(values.size), scale: Number(values.scale), offset: Number(values.offset), seeds: Number(values.seeds), labels: Number(values.labels), views: Number(values.views), minutes: Number(values.minutes), threshold: Number(values.threshold) } };
}

// Run as a script (not when a test imports runQuality).
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const { values, options } = cli();
  initBackend({ log: () => {} })
    .then(async (backend) => {
      await runQuality(options);
      const cpus = os.cpus();
      console.log(`machine: ${cpus.length} x ${cpus[0]?.model.trim()}, backend ${backend.name} (${backend.reason})`);
      const flags = Object.entries(values).map(([key, v]) => `--${key} ${v}`).join(" ");
      console.log(`reproduce: npx tsx bench/backbone-quality.ts ${flags}`);
    })
    .catch((err) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    });
}
