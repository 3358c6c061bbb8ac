/**
 * A PNG grid of FixMatch's views of real images, for a person to look at: one row per image,
 * columns original | weak | strong x4, scaled up 4x with nearest neighbour. Prints what made each
 * strong view, row by row.
 *
 *   npx tsx bench/augment-grid.ts [--data DIR] [--n 8] [--seed 1]
 *       [--size 32] [--out bench/out/augment-grid.png]
 *
 * DIR: any folder of images, or of class folders of images; default the test split of cifar10-small
 * (bench/datasets.ts). Images are taken round-robin from the class folders (sorted), so each row shows
 * another class; every image is resized to --size x --size (CIFAR-10 already is 32x32).
 */
import fs from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { DEFAULT_POLICY, describeApplied, strongAugment, weakAugment } from "../lib/ml/augment";
import { initBackend } from "../lib/ml/backend";
import { Rng } from "../lib/ml/rng";
import * as tf from "../lib/ml/tf";
import { datasetDir } from "./datasets";

const STRONG_COLUMNS = 4;
const SCALE = 4;
const GAP = 1; // white pixels between cells, before scaling
const IMAGE_FILE = /\.(jpe?g|png|webp)$/i;

type Options = { src: string | undefined; n: number; seed: number; size: number; out: string };

function parseOptions(argv: string[]): Options {
  const opts: Options = { src: undefined, n: 8, seed: 1, size: 32, out: "bench/out/augment-grid.png" };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    const positive = () => {
      const v = Number(value);
      if (!Number.isInteger(v) || v < 1) throw new Error(`${flag} needs a positive integer`);
      return v;
    };
    if (flag === "--data" || flag === "--src") opts.src = value;
    else if (flag === "--out") opts.out = value;
    else if (flag === "--n") opts.n = positive();
    else if (flag === "--seed") opts.seed = positive();
    else if (flag === "--size") opts.size = positive();
    else throw new Error(`unknown option ${flag}`);
  }
  return opts;
}

/** Up to n image files: round-robin over the sorted sub-folders, or the folder itself if flat. */
function pickFiles(src: string, n: number): string[] {
  const entries = fs.readdirSync(src, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
  const folders = entries.filter((e) => e.isDirectory()).map((e) => path.join(src, e.name));
  const lists = (folders.length > 0 ? folders : [src]).map((dir) =>
    fs.readdirSync(dir).filter((f) => IMAGE_FILE.test(f)).sort().map((f) => path.join(dir, f)),
  );
  const picked: string[] = [];
  for (let i = 0; picked.length < n && lists.some((l) => i < l.length); i++) {
    for (const list of lists) if (i < list.length && picked.length < n) picked.push(list[i]);
  }
  if (picked.length === 0) throw new Error(`no images under ${src}`);
  return picked;
}

async function loadImages(files: string[], size: number): Promise<tf.Tensor4D> {
  const pixels = new Float32Array(files.length * size * size * 3);
  for (const [i, file] of files.entries()) {
    const raw = await sharp(file).removeAlpha().toColourspace("srgb").resize(size, size, { fit: "cover" }).raw().toBuffer();
    for (let j = 0; j < raw.length; j++) pixels[i * raw.length + j] = raw[j] / 255;
  }
  return tf.tensor4d(pixels, [files.length, size, size, 3]);
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  await initBackend({ log: (line) => console.log(line) });
  const src = opts.src ?? path.join(datasetDir("cifar10-small", undefined), "test");
  const files = pickFiles(src, opts.n);
  const originals = await loadImages(files, opts.size);
  const rng = new Rng(opts.seed);

  const weak = weakAugment(originals, rng);
  const strong = Array.from({ length: STRONG_COLUMNS }, () => strongAugment(originals, rng, DEFAULT_POLICY));
  const columns = [originals, weak, ...strong.map((s) => s.images)];

  const rows = files.length;
  const cell = opts.size + GAP;
  const width = columns.length * cell + GAP;
  const height = rows * cell + GAP;
  const canvas = Buffer.alloc(width * height * 3, 255);
  for (const [c, column] of columns.entries()) {
    const values = column.dataSync();
    for (let r = 0; r < rows; r++) {
      for (let y = 0; y < opts.size; y++) {
        for (let x = 0; x < opts.size; x++) {
          for (let ch = 0; ch < 3; ch++) {
            const v = values[((r * opts.size + y) * opts.size + x) * 3 + ch];
            canvas[((GAP + r * cell + y) * width + GAP + c * cell + x) * 3 + ch] = Math.round(Math.min(1, Math.max(0, v)) * 255);
          }
        }
      }
    }
  }
  tf.dispose(columns);

  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  await sharp(canvas, { raw: { width, height, channels: 3 } })
    .resize(width * SCALE, height * SCALE, { kernel: "nearest" })
    .png()
    .toFile(opts.out);

  console.log(`columns: original | weak | strong x${STRONG_COLUMNS}`);
  for (let r = 0; r < rows; r++) {
    console.log(`row ${r + 1}: ${path.relative(src, files[r])}`);
    strong.forEach((s, k) => console.log(`  strong ${k + 1}: ${describeApplied(s.applied[r])}`));
  }
  console.log(`wrote ${path.resolve(opts.out)} (${width * SCALE}x${height * SCALE})`);
  console.log(`reproduce: npx tsx bench/augment-grid.ts --data ${src} --n ${opts.n} --seed ${opts.seed} --size ${opts.size} --out ${opts.out}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
