/**
 * A "train" job whose config names a backbone in "frozen" mode (issue 12), in the order a user sees
 * it happen:
 *   1. load the backbone (downloaded once, lib/ml/backbones), progress in the run card;
 *   2. plain-view features of every image (lib/ml/features, cached by image hash + backbone);
 *   3. instant proposals: a linear probe and a cosine class mean on the labeled plain features; the
 *      better on held-out human labels (the probe on a tie) predicts every image at once, so review
 *      works within seconds of the features existing;
 *   4. K weak + K strong view features per image (cached by hash + backbone + augmentation key);
 *   5. FixMatch trains a small head on the cached views, with the usual progress rows;
 *   6. the run's model is the FixMatch head only if its held-out accuracy beats the instant head's,
 *      otherwise the instant head (metrics.headKind says which); it is saved as a tfjs layers model
 *      [N, featureDim] -> logits in runs/<id>/head/ (raw backbone features in: the standardisation
 *      is folded in), with head/head.json;
 *   7. predictions from the plain features, and the plain features themselves as the embeddings
 *      "label next" and suspicious labels use.
 * The "predict" job of such a run (predictFrozen) reads the saved head and the cached features,
 * computing only the features of images added since.
 */
import fsp from "node:fs/promises";
import path from "node:path";
import { addProgress, getRun, listImagesWithLabels, updateRun, writePredictions } from "@/lib/db/queries/training";
import type { Db } from "@/lib/db/client";
import type { TrainingRunRow } from "@/lib/db/schema";
import { getEnv } from "@/lib/env";
import { loadBackbone, type DownloadProgress } from "@/lib/ml/backbones";
import type { BackboneRef, LoadedBackbone } from "@/lib/ml/backbones/types";
import type { TrainConfig } from "@/lib/ml/config";
import { calibrate, calibratedConfidence, logitsFromProbs, type StoredCalibration } from "@/lib/ml/calibration";
import { writeEmbeddings } from "@/lib/ml/embeddings";
import { runDir } from "@/lib/ml/export";
import {
  argmaxRow,
  classMeanHead,
  disposeBackbone,
  extractPlainFeatures,
  extractViewFeatures,
  FeatureExtractionStopped,
  fitStandardizer,
  foldStandardizer,
  HEAD_DEFAULTS,
  headAccuracy,
  headProbs,
  standardize,
  trainFixMatchHead,
  trainLinearProbe,
  type FeatureImage,
  type FeatureProgress,
  type HeadKind,
  type HeadTrainConfig,
  type LabeledRows,
} from "@/lib/ml/features";
import { saveLayersModel } from "@/lib/ml/model-files";
import { decodeImage } from "@/lib/ml/pixels";
import * as tf from "@/lib/ml/tf";
import { MIN_EVIDENCE_N } from "@/lib/review/evidence";
import { splitRunLabels, type SnapshotLabel } from "@/lib/review/ground-truth";
import { outOfFoldProbs, writeOutOfFold } from "@/lib/review/out-of-fold";
import { readRunSnapshot, snapshotLabels } from "@/lib/review/precision";
import { blobPath } from "@/lib/storage";
import { loadForForwardPasses } from "../backend";
import type { JobContext } from "../context";

/** Weak and strong views cached per image: the head samples one of each per step. */
export const VIEWS_PER_IMAGE = 4;
/**
 * The views' seed is fixed (not the run's seed), so every run with the same backbone and
 * augmentation reuses the same cached views; the run's seed still drives the head's sampling.
 */
export const VIEWS_SEED = 0;

export const HEAD_DIR = "head";

/** What runs/<id>/head/head.json says about the saved head. */
export type SavedHeadInfo = {
  headKind: HeadKind;
  backboneId: string;
  featureDim: number;
  numClasses: number;
  /** Held-out accuracy of each candidate (null: no held-out labels). */
  heldOutAcc: Partial<Record<HeadKind, number | null>>;
  heldOutImages: number;
};

export function isFrozenBackboneRun(config: TrainConfig | undefined): config is TrainConfig & { backbone: BackboneRef } {
  return Boolean(config?.backbone) && (config!.backboneMode ?? "frozen") === "frozen";
}

// One backbone kept per worker process: loading MobileNetV2 takes seconds, a run uses it twice.
let loaded: { key: string; backbone: LoadedBackbone } | null = null;

async function backboneFor(ref: BackboneRef, onProgress?: (p: DownloadProgress) => void): Promise<LoadedBackbone> {
  const key = JSON.stringify(ref);
  if (loaded?.key !== key) {
    if (loaded) disposeBackbone(loaded.backbone);
    loaded = null;
    // Weights on the worker's forward backend (webgpu where there is one); the head trains on the training one.
    loaded = { key, backbone: await loadForForwardPasses(() => loadBackbone(ref, { dataDir: getEnv().dataDir, onProgress })) };
  }
  return loaded.backbone;
}

function featureDir(): string {
  return path.join(getEnv().dataDir, "features");
}

function featureImages(db: Db, projectId: number, imageIds: readonly number[], backbone: LoadedBackbone): { ids: number[]; images: FeatureImage[] } {
  const shaOf = new Map(listImagesWithLabels(db, projectId).map((r) => [r.id, r.sha256]));
  const ids = imageIds.filter((id) => shaOf.has(id));
  const { inputSize, channels } = backbone.preprocessing;
  return { ids, images: ids.map((id) => ({ sha256: shaOf.get(id)!, load: () => decodeImage(blobPath(shaOf.get(id)!), inputSize, channels) })) };
}

function describeFeatures(p: FeatureProgress): string {
  const what = p.stage === "plain" ? "features" : `features of ${VIEWS_PER_IMAGE} weak + ${VIEWS_PER_IMAGE} strong views`;
  return `${what} ${p.done}/${p.total} images${p.imagesPerS > 0 ? ` (${p.imagesPerS.toFixed(1)} images/s)` : ""}`;
}

function writeRunPredictions(db: Db, run: TrainingRunRow, classIds: readonly number[], imageIds: readonly number[], probs: Float32Array, temperature: number | null = null): void {
  const numClasses = classIds.length;
  writePredictions(
    db,
    imageIds.map((imageId, i) => {
      const p = Array.from(probs.subarray(i * numClasses, (i + 1) * numClasses));
      const top = argmaxRow(probs, i, numClasses);
      const calibrated = temperature === null ? null : calibratedConfidence(p, temperature);
      return { projectId: run.projectId, imageId, runId: run.id, modelVersion: run.modelVersion, probs: p, topClassId: classIds[top], confidence: p[top], calibratedConfidence: calibrated };
    }),
  );
}

/**
 * Temperature scaling of the saved head on the run's held-out human labels (the split the head was
 * chosen on), as image runs do in the predict job. Below MIN_EVIDENCE_N the run stays uncalibrated.
 */
function fitFrozenCalibration(runId: number, imageIds: readonly number[], probs: Float32Array, numClasses: number): StoredCalibration {
  const snapshot = readRunSnapshot(runId);
  if (!snapshot) return { fit: null, n: 0, reason: "the run's data snapshot is missing" };
  const rowOf = new Map(imageIds.map((id, row) => [id, row]));
  const heldOut = splitRunLabels(snapshotLabels(snapshot, (id) => rowOf.has(id))).heldOut.sort((a, b) => a.imageId - b.imageId);
  if (heldOut.length < MIN_EVIDENCE_N) return { fit: null, n: heldOut.length, reason: `not enough labels (n=${heldOut.length})` };
  const logits = heldOut.map((e) => {
    const row = rowOf.get(e.imageId)!;
    return logitsFromProbs(probs.subarray(row * numClasses, (row + 1) * numClasses));
  });
  return { fit: calibrate(logits, heldOut.map((e) => e.classIndex)), n: heldOut.length, reason: null };
}

/** The head config: HEAD_DEFAULTS where a frozen run departs from the image presets, the run's own FixMatch settings otherwise. */
export function headConfigFor(config: TrainConfig, overrides: Partial<HeadTrainConfig> = {}): HeadTrainConfig {
  return {
    ...config,
    ...HEAD_DEFAULTS,
    // A time budget is the user's; the step count follows it as in image runs.
    ...(config.timeBudgetS ? { steps: Math.max(HEAD_DEFAULTS.steps, config.steps) } : {}),
    ...overrides,
  };
}

export type FrozenSnapshot = { classIds: number[]; labeled: SnapshotLabel[]; imageIds: number[] };

export async function trainFrozen(ctx: JobContext, run: TrainingRunRow, snapshot: FrozenSnapshot, config: TrainConfig & { backbone: BackboneRef }, dir: string) {
  const { db } = ctx;
  let cancelled = false;
  let lastCheck = 0;
  let fraction = 0;
  let message = "loading backbone";
  /** Reports to the job (rate-limited) and notes a cancel; true when the run should stop. */
  const report = (force = false) => {
    if (force || Date.now() - lastCheck >= 500) {
      lastCheck = Date.now();
      cancelled ||= ctx.progress(fraction, message);
    }
    return cancelled || ctx.signal.aborted;
  };
  const stopOutcome = (step: number, metrics: Record<string, unknown>) => {
    if (cancelled) updateRun(db, run.id, { status: "stopped", step, finishedAt: Date.now(), metrics });
    else updateRun(db, run.id, { status: "queued", step });
    return { runId: run.id, status: "stopped" as const, step, ...metrics };
  };

  report(true);
  const backbone = await backboneFor(config.backbone, (p) => {
    message = `downloading backbone ${(p.bytesDone / 1e6).toFixed(1)}/${(p.bytesTotal / 1e6).toFixed(1)} MB`;
    report();
  });
  const { ids, images } = featureImages(db, run.projectId, snapshot.imageIds, backbone);
  const rowOf = new Map(ids.map((id, row) => [id, row]));
  const dim = backbone.featureDim;
  const numClasses = snapshot.classIds.length;

  // ---- 2. plain features (first 10% of the bar) ------------------------------------------------
  const extractStarted = performance.now();
  let plainRate = 0;
  let plain: Float32Array;
  try {
    plain = await extractPlainFeatures({
      backbone,
      images,
      dir: featureDir(),
      shouldStop: () => report(),
      onProgress: (p) => {
        fraction = 0.1 * (p.done / Math.max(p.total, 1));
        message = describeFeatures(p);
        plainRate = p.imagesPerS || plainRate;
        report(true);
      },
    });
  } catch (err) {
    if (err instanceof FeatureExtractionStopped) return stopOutcome(0, {});
    throw err;
  }
  const standardizer = fitStandardizer(plain, dim);
  const z = standardize(plain, standardizer);

  // ---- 3. instant proposals --------------------------------------------------------------------
  // Held out: human labels only (ground-truth.ts); accepted proposals and imported labels always train.
  const labeled = snapshotLabels(snapshot, (id) => rowOf.has(id)).map((e) => ({ ...e, row: rowOf.get(e.imageId)! }));
  const split = splitRunLabels(labeled);
  const rowsOf = (examples: typeof labeled): LabeledRows => ({ rows: examples.map((e) => e.row), classes: examples.map((e) => e.classIndex) });
  const trainRows = rowsOf(split.train);
  const heldOutRows = rowsOf(split.heldOut);
  if (trainRows.rows.length === 0) throw new Error("no labeled images to train on");
  message = "instant proposals: linear probe and class mean";
  report(true);
  const probe = trainLinearProbe(z, dim, numClasses, trainRows);
  const classMean = classMeanHead(z, dim, numClasses, trainRows);
  const heldOutAcc: SavedHeadInfo["heldOutAcc"] = { "linear-probe": headAccuracy(probe, z, dim, heldOutRows), "class-mean": headAccuracy(classMean, z, dim, heldOutRows) };
  const classMeanWins = (heldOutAcc["class-mean"] ?? -1) > (heldOutAcc["linear-probe"] ?? -1);
  const instantKind: HeadKind = classMeanWins ? "class-mean" : "linear-probe";
  const instant = classMeanWins ? classMean : probe;
  (classMeanWins ? probe : classMean).dispose();
  writeRunPredictions(db, run, snapshot.classIds, ids, headProbs(instant, z, dim));
  const featureSeconds = (performance.now() - extractStarted) / 1000;
  const baseMetrics = {
    heldOutImages: heldOutRows.rows.length,
    trainLabeled: trainRows.rows.length,
    heldOutBasis: split.humanOnly ? ("human" as const) : ("legacy" as const),
    backboneId: backbone.id,
    featuresPerS: plainRate,
  };
  updateRun(db, run.id, { metrics: { ...baseMetrics, headKind: instantKind, heldOutAcc: heldOutAcc[instantKind], heads: heldOutAcc, instantProposalsAfterS: featureSeconds } });

  // ---- 4. view features (10% - 50%) ------------------------------------------------------------
  let views;
  try {
    views = await extractViewFeatures({
      backbone,
      images,
      dir: featureDir(),
      views: { policy: config.augment, k: VIEWS_PER_IMAGE, seed: VIEWS_SEED },
      shouldStop: () => report(),
      onProgress: (p) => {
        fraction = 0.1 + 0.4 * (p.done / Math.max(p.total, 1));
        message = describeFeatures(p);
        report(true);
      },
    });
  } catch (err) {
    instant.dispose();
    if (err instanceof FeatureExtractionStopped) return stopOutcome(0, { ...baseMetrics, headKind: instantKind });
    throw err;
  }

  // ---- 5. FixMatch head (50% - 100%) -----------------------------------------------------------
  // The run's stored config may carry `head` overrides (tests, benchmarks, an API caller).
  const headConfig = headConfigFor(config, (run.config as { head?: Partial<HeadTrainConfig> }).head);
  updateRun(db, run.id, { totalSteps: headConfig.steps });
  const result = await trainFixMatchHead({
    config: headConfig,
    features: { dim, k: views.k, plain: z, weak: standardize(views.weak, standardizer), strong: standardize(views.strong, standardizer) },
    labeled: trainRows,
    heldOut: heldOutRows,
    unlabeled: ids.map((_, row) => row),
    dir: path.join(dir, "head-train"),
    shouldStop: () => report(),
    onProgress: (p) => {
      addProgress(db, { runId: run.id, step: p.step, lr: p.lr, lossSup: p.lossSup, lossUnsup: p.lossUnsup, maskRate: p.maskRate, pseudoAcc: p.pseudoAcc, heldoutAcc: p.heldOutAcc, imagesPerS: p.rowsPerS, etaS: p.etaS, perClass: null });
      fraction = 0.5 + 0.5 * p.fraction;
      const parts = [`FixMatch head step ${p.step}/${p.totalSteps}`, `loss ${p.lossSup.toFixed(3)}`, `unlabeled ${p.lossUnsup.toFixed(3)}`, `mask ${(100 * p.maskRate).toFixed(0)}%`];
      if (p.heldOutAcc !== null) parts.push(`held-out ${(100 * p.heldOutAcc).toFixed(1)}%`);
      parts.push(`${p.secondsPer1000Steps.toFixed(1)} s per 1000 steps`);
      message = parts.join(", ");
      report(true);
    },
  });
  heldOutAcc.fixmatch = result.heldOutAcc;
  if (result.status === "stopped") {
    result.head.dispose();
    instant.dispose();
    return stopOutcome(result.step, { ...baseMetrics, headKind: instantKind, heads: heldOutAcc });
  }

  // ---- 6. choose on held-out human labels, save --------------------------------------------------
  const fixmatchWins = result.heldOutAcc !== null && result.heldOutAcc > (heldOutAcc[instantKind] ?? -1);
  const headKind: HeadKind = fixmatchWins ? "fixmatch" : instantKind;
  const chosen = fixmatchWins ? result.head : instant;
  (fixmatchWins ? instant : result.head).dispose();
  const folded = foldStandardizer(chosen, standardizer);
  chosen.dispose();
  const info: SavedHeadInfo = { headKind, backboneId: backbone.id, featureDim: dim, numClasses, heldOutAcc, heldOutImages: heldOutRows.rows.length };
  try {
    await saveHead(dir, folded, info);
  } finally {
    folded.dispose();
  }

  // ---- 7. predictions and embeddings from the plain features ------------------------------------
  await predictFrozen(ctx, run, { imageIds: ids, classIds: snapshot.classIds, backbone, plain });
  const chosenAcc = heldOutAcc[headKind] ?? null;
  const metrics = {
    ...(getRun(db, run.id).metrics as object | null),
    ...baseMetrics,
    step: result.step,
    headKind,
    heldOutAcc: chosenAcc,
    heldOutCorrect: chosenAcc === null ? null : Math.round(chosenAcc * heldOutRows.rows.length),
    heads: heldOutAcc,
    instantProposalsAfterS: featureSeconds,
    secondsPer1000Steps: result.secondsPer1000Steps,
  };
  updateRun(db, run.id, { status: "succeeded", step: result.step, finishedAt: Date.now(), metrics });
  return { runId: run.id, status: "finished" as const, ...metrics };
}

/** Writes the head to <runDir>/head/ (model.json + shards, head.json) through a temporary folder. */
async function saveHead(dir: string, head: tf.LayersModel, info: SavedHeadInfo): Promise<void> {
  const dest = path.join(dir, HEAD_DIR);
  const temp = `${dest}.tmp-${process.pid}-${Date.now()}`;
  await saveLayersModel(head, temp);
  await fsp.writeFile(path.join(temp, "head.json"), JSON.stringify(info, null, 2));
  await fsp.rm(dest, { recursive: true, force: true });
  await fsp.rename(temp, dest);
}

/** The saved head of a frozen-backbone run (raw features in, logits out) and what head.json says. Caller disposes. */
export async function loadSavedHead(dir: string): Promise<{ head: tf.LayersModel; info: SavedHeadInfo }> {
  const folder = path.join(dir, HEAD_DIR);
  const modelJson = JSON.parse(await fsp.readFile(path.join(folder, "model.json"), "utf8")) as { modelTopology: object; weightsManifest: tf.io.WeightsManifestConfig };
  const specs = modelJson.weightsManifest.flatMap((g) => g.weights);
  const shards = await Promise.all(modelJson.weightsManifest.flatMap((g) => g.paths).map((p) => fsp.readFile(path.join(folder, p))));
  const bytes = Buffer.concat(shards);
  const head = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs: specs, weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) }));
  const info = JSON.parse(await fsp.readFile(path.join(folder, "head.json"), "utf8")) as SavedHeadInfo;
  return { head, info };
}

/**
 * Predictions and embeddings of a frozen-backbone run: the saved head over the plain features of
 * every image (cached; images added since the run are computed now). `known` skips the reload
 * when the train job already holds them.
 */
export async function predictFrozen(
  ctx: JobContext,
  run: TrainingRunRow,
  known?: { imageIds: number[]; classIds: number[]; backbone: LoadedBackbone; plain: Float32Array },
): Promise<{ runId: number; modelVersion: string; images: number }> {
  const { db } = ctx;
  const dir = runDir(run.id);
  const stored = run.config as { train: TrainConfig & { backbone: BackboneRef }; classIds: number[] };
  let imageIds: number[];
  let plain: Float32Array;
  let dim: number;
  if (known) {
    ({ imageIds, plain } = known);
    dim = known.backbone.featureDim;
  } else {
    const backbone = await backboneFor(stored.train.backbone);
    const all = listImagesWithLabels(db, run.projectId).map((r) => r.id);
    const { ids, images } = featureImages(db, run.projectId, all, backbone);
    imageIds = ids;
    dim = backbone.featureDim;
    plain = await extractPlainFeatures({
      backbone,
      images,
      dir: featureDir(),
      onProgress: (p) => ctx.progress(0.9 * (p.done / Math.max(p.total, 1)), describeFeatures(p)),
    });
  }
  const { head } = await loadSavedHead(dir);
  try {
    const classIds = known?.classIds ?? stored.classIds;
    const probs = headProbs(head, plain, dim);
    const calibration = fitFrozenCalibration(run.id, imageIds, probs, classIds.length);
    updateRun(db, run.id, { metrics: { ...((getRun(db, run.id).metrics as object | null) ?? {}), calibration } });
    writeRunPredictions(db, getRun(db, run.id), classIds, imageIds, probs, calibration.fit?.temperature ?? null);
    // The backbone's pooled features are what images look like to this model: "label next" spreads its picks over them.
    await writeEmbeddings(dir, { dim, imageIds, values: plain });
    // Suspicious labels: heads fitted on the frozen features in 5 folds, so no label judges itself
    // (lib/review/out-of-fold.ts); the backbone itself never saw these labels either.
    const indexOf = new Map(classIds.map((id, i) => [id, i]));
    const labeledNow = listImagesWithLabels(db, run.projectId)
      .filter((r) => r.classId !== null && indexOf.has(r.classId))
      .map((r) => ({ imageId: r.id, classIndex: indexOf.get(r.classId!)! }));
    if (dim > 0) await writeOutOfFold(dir, outOfFoldProbs({ dim, imageIds, values: plain }, labeledNow, classIds.length));
    ctx.progress(1, `predicted ${imageIds.length} images`);
    return { runId: run.id, modelVersion: run.modelVersion, images: imageIds.length };
  } finally {
    head.dispose();
  }
}
