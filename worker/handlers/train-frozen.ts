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
 * Steps 2 to 6 are lib/ml/features/frozen-run.ts (shared with `npm run train`); this handler adds
 * the database: which images and labels (human labels held out), progress rows, predictions,
 * metrics. The "predict" job of such a run (predictFrozen) reads the saved head and the cached
 * features, computing only the features of images added since.
 */
import fsp from "node:fs/promises";
import path from "node:path";
import { addProgress, getRun, listImagesWithLabels, updateRun, writePredictions, type RunRequest } from "@/lib/db/queries/training";
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
  describeFeatures,
  disposeBackbone,
  explicitHeadFields,
  extractPlainFeatures,
  headConfigFor,
  HEAD_DIR,
  headProbs,
  runFrozenBackbone,
  saveHead,
  type FeatureImage,
  type HeadTrainConfig,
  type LabeledRows,
  type SavedHeadInfo,
} from "@/lib/ml/features";
import { decodeImage } from "@/lib/ml/pixels";
import * as tf from "@/lib/ml/tf";
import { MIN_EVIDENCE_N } from "@/lib/review/evidence";
import { splitRunLabels, type SnapshotLabel } from "@/lib/review/ground-truth";
import { outOfFoldProbs, writeOutOfFold } from "@/lib/review/out-of-fold";
import { readRunSnapshot, snapshotLabels } from "@/lib/review/precision";
import { blobPath } from "@/lib/storage";
import { loadForForwardPasses } from "../backend";
import type { JobContext } from "../context";

export { HEAD_DIR, VIEWS_PER_IMAGE, VIEWS_SEED, type SavedHeadInfo } from "@/lib/ml/features";

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

  report(true);
  const backbone = await backboneFor(config.backbone, (p) => {
    message = `downloading backbone ${(p.bytesDone / 1e6).toFixed(1)}/${(p.bytesTotal / 1e6).toFixed(1)} MB`;
    report();
  });
  const { ids, images } = featureImages(db, run.projectId, snapshot.imageIds, backbone);
  const rowOf = new Map(ids.map((id, row) => [id, row]));
  const numClasses = snapshot.classIds.length;

  // Held out: human labels only (ground-truth.ts); accepted proposals and imported labels always train.
  const labeled = snapshotLabels(snapshot, (id) => rowOf.has(id)).map((e) => ({ ...e, row: rowOf.get(e.imageId)! }));
  const split = splitRunLabels(labeled);
  const rowsOf = (examples: typeof labeled): LabeledRows => ({ rows: examples.map((e) => e.row), classes: examples.map((e) => e.classIndex) });
  const trainRows = rowsOf(split.train);
  const heldOutRows = rowsOf(split.heldOut);
  const baseMetrics = () => ({
    heldOutImages: heldOutRows.rows.length,
    trainLabeled: trainRows.rows.length,
    heldOutBasis: split.humanOnly ? ("human" as const) : ("legacy" as const),
    backboneId: backbone.id,
  });
  // The user's own choices (the run request's steps and overrides) win over HEAD_DEFAULTS; the
  // stored config may also carry `head` overrides (tests, benchmarks, an API caller).
  const stored = run.config as { request?: RunRequest; head?: Partial<HeadTrainConfig> };
  const headConfig = headConfigFor(config, { ...explicitHeadFields(stored.request), ...stored.head });
  updateRun(db, run.id, { totalSteps: headConfig.steps });

  // Features: the first 10% of the bar, the views up to 50%, the head the rest.
  const result = await runFrozenBackbone({
    backbone,
    images,
    featureDir: featureDir(),
    numClasses,
    train: trainRows,
    heldOut: heldOutRows,
    augment: config.augment,
    headConfig,
    checkpointDir: path.join(dir, "head-train"),
    shouldStop: () => report(),
    onFeatures: (p) => {
      const share = p.done / Math.max(p.total, 1);
      fraction = p.stage === "plain" ? 0.1 * share : 0.1 + 0.4 * share;
      message = describeFeatures(p);
      report(true);
    },
    onInstant: (instant) => {
      // The instant head's proposals are there for review before the views are computed.
      writeRunPredictions(db, run, snapshot.classIds, ids, instant.probs);
      updateRun(db, run.id, {
        metrics: { ...baseMetrics(), featuresPerS: instant.featuresPerS, headKind: instant.kind, heldOutAcc: instant.heldOutAcc[instant.kind], heads: instant.heldOutAcc, instantProposalsAfterS: instant.afterS },
      });
      message = `instant proposals: ${instant.kind}`;
      report(true);
    },
    onHeadProgress: (p) => {
      addProgress(db, { runId: run.id, step: p.step, lr: p.lr, lossSup: p.lossSup, lossUnsup: p.lossUnsup, maskRate: p.maskRate, pseudoAcc: p.pseudoAcc, heldoutAcc: p.heldOutAcc, imagesPerS: p.rowsPerS, etaS: p.etaS, perClass: null });
      fraction = 0.5 + 0.5 * p.fraction;
      const parts = [`FixMatch head step ${p.step}/${p.totalSteps}`, `loss ${p.lossSup.toFixed(3)}`, `unlabeled ${p.lossUnsup.toFixed(3)}`, `mask ${(100 * p.maskRate).toFixed(0)}%`];
      if (p.heldOutAcc !== null) parts.push(`held-out ${(100 * p.heldOutAcc).toFixed(1)}%`);
      parts.push(`${p.secondsPer1000Steps.toFixed(1)} s per 1000 steps`);
      message = parts.join(", ");
      report(true);
    },
  });

  if (result.status === "stopped") {
    const metrics = result.stage === "plain" ? {} : { ...(getRun(db, run.id).metrics as object | null), ...baseMetrics(), headKind: result.instant.kind, heads: result.heldOutAcc };
    if (cancelled) updateRun(db, run.id, { status: "stopped", step: result.step, finishedAt: Date.now(), metrics });
    else updateRun(db, run.id, { status: "queued", step: result.step });
    return { runId: run.id, ...metrics, status: "stopped" as const, step: result.step };
  }

  // The chosen head (raw features in), saved; predictions and embeddings from the plain features.
  const { headKind, heldOutAcc } = result;
  const info: SavedHeadInfo = { headKind, backboneId: backbone.id, featureDim: backbone.featureDim, numClasses, heldOutAcc, heldOutImages: heldOutRows.rows.length };
  try {
    await saveHead(dir, result.head, info);
  } finally {
    result.head.dispose();
  }
  await predictFrozen(ctx, run, { imageIds: ids, classIds: snapshot.classIds, backbone, plain: result.plain });
  const chosenAcc = heldOutAcc[headKind] ?? null;
  const metrics = {
    ...(getRun(db, run.id).metrics as object | null),
    ...baseMetrics(),
    featuresPerS: result.instant.featuresPerS,
    step: result.step,
    headKind,
    heldOutAcc: chosenAcc,
    heldOutCorrect: chosenAcc === null ? null : Math.round(chosenAcc * heldOutRows.rows.length),
    heads: heldOutAcc,
    instantProposalsAfterS: result.instant.afterS,
    secondsPer1000Steps: result.secondsPer1000Steps,
  };
  updateRun(db, run.id, { status: "succeeded", step: result.step, finishedAt: Date.now(), metrics });
  return { runId: run.id, status: "finished" as const, ...metrics };
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
