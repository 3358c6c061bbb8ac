/**
 * Out-of-fold predictions for judging labels (confident learning, Northcutt et al. 2021, computes
 * its thresholds and flags from out-of-sample probabilities): a model that trained on a label
 * pulls its prediction toward it, wrong or not, so it cannot be the judge of that label. Here the
 * labeled images are cut into OOF_FOLDS folds by a stable hash of their id (label-blind), and each
 * fold's images are judged by a linear softmax head fitted on the run's penultimate embeddings of
 * the OTHER folds' labels. The worker does this right after predict (it has the embeddings and the
 * labels of that moment) and writes <runDir>/oof.json; lib/review/suspicious.ts reads it.
 *
 * What remains in-sample: the embeddings come from the run's network, which trained on most of
 * these labels, so a network that memorised a wrong label can still place it near the wrong
 * class. The head is what is out of fold; it removes the final layer's memorisation, not the
 * backbone's.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { stableUnit } from "@/lib/ml/heldout";
import type { Embeddings } from "@/lib/ml/embeddings";
import { fitSoftmaxHead, predictSoftmaxHead } from "@/lib/ml/softmax-regression";
import { writeAtomically } from "@/lib/storage";

export const OOF_FOLDS = 5;
const OOF_FILE = "oof.json";
/** Multiply-adds the worker spends on the heads at most (~seconds in JS); more data gets fewer iterations. */
const WORK_BUDGET = 4e9;

export type OutOfFold = {
  method: string;
  folds: number;
  /** Row i: imageIds[i], the label it had (class index) when the heads were fitted, its out-of-fold probabilities. */
  imageIds: number[];
  labels: number[];
  /** imageIds.length x classes, row-major. */
  probs: number[];
  classes: number;
  createdAt: number;
};

export const foldOf = (imageId: number, folds = OOF_FOLDS) => Math.min(folds - 1, Math.floor(stableUnit(imageId) * folds));

/** Out-of-fold class probabilities of every labeled image that has an embedding. */
export function outOfFoldProbs(embeddings: Embeddings, labeled: readonly { imageId: number; classIndex: number }[], classes: number, folds = OOF_FOLDS): OutOfFold {
  const rowOf = new Map(embeddings.imageIds.map((id, i) => [id, i]));
  const items = labeled.filter((e) => rowOf.has(e.imageId) && e.classIndex >= 0 && e.classIndex < classes);
  const { dim } = embeddings;
  const iterations = Math.max(30, Math.min(200, Math.floor(WORK_BUDGET / Math.max(1, 2 * items.length * dim * classes * folds))));
  const probs = new Array<number>(items.length * classes).fill(0);
  for (let f = 0; f < folds; f++) {
    const train = items.filter((e) => foldOf(e.imageId, folds) !== f);
    const test = items.map((e, i) => [e, i] as const).filter(([e]) => foldOf(e.imageId, folds) === f);
    if (test.length === 0) continue;
    const x = new Float32Array(train.length * dim);
    train.forEach((e, i) => x.set(embeddings.values.subarray(rowOf.get(e.imageId)! * dim, (rowOf.get(e.imageId)! + 1) * dim), i * dim));
    const head = fitSoftmaxHead(x, train.length, dim, train.map((e) => e.classIndex), classes, { iterations });
    for (const [e, i] of test) {
      const row = rowOf.get(e.imageId)!;
      const p = predictSoftmaxHead(head, embeddings.values.subarray(row * dim, (row + 1) * dim));
      for (let c = 0; c < classes; c++) probs[i * classes + c] = p[c];
    }
  }
  return {
    method: `${folds}-fold softmax regression on the run's penultimate embeddings (${iterations} iterations)`,
    folds,
    imageIds: items.map((e) => e.imageId),
    labels: items.map((e) => e.classIndex),
    probs: probs.map((p) => Math.round(p * 1e6) / 1e6),
    classes,
    createdAt: Date.now(),
  };
}

export async function writeOutOfFold(dir: string, oof: OutOfFold): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  await writeAtomically(path.join(dir, OOF_FILE), (temp) => fsp.writeFile(temp, JSON.stringify(oof)));
}

/** The run's out-of-fold probabilities by image id, or null for runs predicted before they existed. */
export function readOutOfFold(dir: string): { method: string; folds: number; probsOf: Map<number, number[]> } | null {
  let oof: OutOfFold;
  try {
    oof = JSON.parse(fs.readFileSync(path.join(dir, OOF_FILE), "utf8")) as OutOfFold;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  const probsOf = new Map(oof.imageIds.map((id, i) => [id, oof.probs.slice(i * oof.classes, (i + 1) * oof.classes)]));
  return { method: oof.method, folds: oof.folds, probsOf };
}
