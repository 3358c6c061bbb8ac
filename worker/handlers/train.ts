/**
 * The "train" and "predict" jobs.
 *
 * train: resolve the run's request into a full config (preset + overrides + what the data says),
 * snapshot the data (class order, labeled and unlabeled image ids) into <dataDir>/runs/<id>/data.json,
 * decode new images into the pixel cache, and run the loop with progress going to the job and to
 * training_progress rows. The snapshot and the checkpoint make the job restartable: when a worker
 * dies and the job is claimed again, the loop resumes from the last checkpoint on the same data.
 * A user's cancel ends the run as "stopped" with its last checkpoint kept; a worker shutdown hands
 * the job back to the queue and the run resumes on the next claim. A finished run queues "predict".
 *
 * A finished run also writes its model files for the download (runs/<id>/export/) before it is
 * marked succeeded, so a succeeded run's download is ready at once; "export.model" writes them
 * for runs that finished before this step existed.
 *
 * predict: the EMA model of the run's checkpoint over every image of the project, in batches,
 * written as prediction rows stamped with the run's model version.
 */
import fsp from "node:fs/promises";
import path from "node:path";
import { addProgress, dropProgressAfter, getRun, listImagesWithLabels, updateRun, writePredictions, type RunRequest } from "@/lib/db/queries/training";
import { listClasses } from "@/lib/db/queries/classes";
import type { Db } from "@/lib/db/client";
import type { TrainingRunRow } from "@/lib/db/schema";
import { getEnv } from "@/lib/env";
import { enqueueJob, type JobPayload } from "@/lib/jobs";
import { ensureBackend, runBackendFields, selectForwardBackend, selectTrainingBackend, workerBackends } from "../backend";
import type { LabeledExample } from "@/lib/ml/data";
import { splitRunLabels, type SnapshotLabel } from "@/lib/review/ground-truth";
import { formatProportion, MIN_EVIDENCE_N, proportion } from "@/lib/review/evidence";
import { readRunSnapshot, snapshotLabels } from "@/lib/review/precision";
import { calibrate, calibratedConfidence as calibratedConfidenceOf, logitsFromProbs, type StoredCalibration } from "@/lib/ml/calibration";
import { runDir } from "@/lib/ml/export";
import { writeEmbeddings, type Embeddings } from "@/lib/ml/embeddings";
import { outOfFoldProbs, writeOutOfFold } from "@/lib/review/out-of-fold";
import { inferenceModel, loadTrainedModel, predictProbsAndEmbeddings } from "@/lib/ml/infer";
import { exportRunModel } from "@/lib/ml/model-files";
import { pixelCacheFiles, updatePixelCache, type Channels, type PixelCache } from "@/lib/ml/pixels";
import { PRESETS, type PresetName } from "@/lib/ml/presets";
import { train, type TrainProgress } from "@/lib/ml/train";
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from "@/lib/ml/config";
import { withBackboneInput } from "@/lib/ml/backbones/finetune";
import { blobPath, writeAtomically } from "@/lib/storage";
import type { JobContext } from "../context";
import { SAMPLES_EVERY, sampleRecorder } from "./train-samples";
import { isFrozenBackboneRun, predictFrozen, trainFrozen } from "./train-frozen";
import { projectAugmentPolicy } from "./augment-preview";
import type { AugmentPolicy } from "@/lib/ml/augment";

/** How often a running loop asks the queue whether it was cancelled (also extends the lease). */
const CANCEL_CHECK_MS = 500;

// The folder layout of a run is shared with the web app's model download.
export { runDir };

/**
 * The data a run trains on, fixed at its first start. classIds[i] is class index i. Each label
 * keeps its source, which decides the held-out split (lib/review/ground-truth.ts: only human
 * labels are held out); snapshots from before sources were kept have none.
 */
type DataSnapshot = { classIds: number[]; labeled: SnapshotLabel[]; imageIds: number[]; channels: Channels };

export async function takeOrReadSnapshot(db: Db, run: TrainingRunRow): Promise<DataSnapshot> {
  const file = path.join(runDir(run.id), "data.json");
  try {
    return JSON.parse(await fsp.readFile(file, "utf8")) as DataSnapshot;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const classIds = listClasses(db, run.projectId).map((c) => c.id);
  const indexOf = new Map(classIds.map((id, i) => [id, i]));
  const rows = listImagesWithLabels(db, run.projectId);
  const snapshot: DataSnapshot = {
    classIds,
    labeled: rows.filter((r) => r.classId !== null && indexOf.has(r.classId)).map((r) => [r.id, indexOf.get(r.classId!)!, r.source]),
    imageIds: rows.map((r) => r.id),
    // Gray only when every image is (1 channel; 2 is gray + alpha).
    channels: rows.every((r) => r.channels <= 2) ? 1 : 3,
  };
  await writeAtomically(file, (temp) => fsp.writeFile(temp, JSON.stringify(snapshot)));
  return snapshot;
}

function resolveConfig(request: RunRequest, snapshot: DataSnapshot, augment: AugmentPolicy): TrainConfig {
  const preset = PRESETS[request.preset as PresetName];
  if (!preset) throw new Error(`unknown preset "${request.preset}"`);
  // A backbone fixes the input: its size and channels replace the preset's and the data's.
  return withBackboneInput({
    ...DEFAULT_TRAIN_CONFIG,
    ...preset,
    ...request.overrides,
    mode: request.mode,
    augment,
    channels: snapshot.channels,
    numClasses: snapshot.classIds.length,
    ...(request.steps !== undefined ? { steps: request.steps } : {}),
    ...(request.seed !== undefined ? { seed: request.seed } : {}),
  });
}

async function loadPixels(db: Db, projectId: number, imageIds: readonly number[], size: number, channels: Channels, onProgress?: (done: number, total: number) => void): Promise<PixelCache> {
  const shaOf = new Map(listImagesWithLabels(db, projectId).map((r) => [r.id, r.sha256]));
  const sources = imageIds.filter((id) => shaOf.has(id)).map((id) => ({ id, file: blobPath(shaOf.get(id)!) }));
  return updatePixelCache({ files: pixelCacheFiles(getEnv().dataDir, projectId, size, channels), size, channels, images: sources, onProgress });
}

function describeProgress(p: TrainProgress, heldOutN: number): string {
  const parts = [`step ${p.step}/${p.totalSteps}`, `loss ${p.lossSup.toFixed(3)}`];
  if (p.lossUnsup !== null) parts.push(`unlabeled ${p.lossUnsup.toFixed(3)}`, `mask ${(100 * p.maskRate!).toFixed(0)}%`);
  if (p.heldOutAcc !== null) parts.push(`held-out ${formatProportion(proportion(Math.round(p.heldOutAcc * heldOutN), heldOutN))}`);
  parts.push(`${p.imagesPerS.toFixed(0)} img/s`, `ETA ${Math.round(p.etaS)} s`);
  return parts.join(", ");
}

export async function handleTrain(ctx: JobContext, payload: JobPayload<"train">) {
  const { db } = ctx;
  const run = getRun(db, payload.runId);
  if (run.projectId !== payload.projectId) throw new Error(`run ${run.id} belongs to project ${run.projectId}`);
  await selectTrainingBackend();
  const snapshot = await takeOrReadSnapshot(db, run);
  const stored = run.config as { request: RunRequest; train?: TrainConfig };
  // The project's augmentation toggles (its "Augmentation" preview) are fixed into the run's config at its first start.
  const config = stored.train ?? resolveConfig(stored.request, snapshot, projectAugmentPolicy(db, run.projectId));
  updateRun(db, run.id, {
    status: "running",
    jobId: ctx.jobId,
    config: { ...stored, train: config, classIds: snapshot.classIds },
    // A frozen-backbone run names both backends when its features ran on the forward one.
    ...runBackendFields(await workerBackends(), isFrozenBackboneRun(config)),
    totalSteps: config.steps,
    startedAt: run.startedAt ?? Date.now(),
    error: null,
  });

  try {
    if (isFrozenBackboneRun(config)) {
      const outcome = await trainFrozen(ctx, getRun(db, run.id), snapshot, config, runDir(run.id));
      // Backbone + head composed into the download's model files, as an image run writes its own.
      if (outcome.status === "finished") await writeModelExport(ctx, run.id, config.backbone);
      return outcome;
    }
    ctx.progress(0, "decoding images");
    const cache = await loadPixels(db, run.projectId, snapshot.imageIds, config.inputSize, config.channels, (done, total) =>
      ctx.progress(0, `decoding images ${done}/${total}`),
    );
    const labeled: (LabeledExample & { source?: string | null })[] = snapshot.labeled
      .filter(([imageId]) => cache.frameOf.has(imageId))
      .map(([imageId, classIndex, source]) => ({ imageId, classIndex, frame: cache.frameOf.get(imageId)!, ...(source !== undefined ? { source } : {}) }));
    // Held out: human labels only; accepted proposals and imported labels always train.
    const split = splitRunLabels(labeled);
    const heldOutBasis = split.humanOnly ? "human" : "legacy";
    updateRun(db, run.id, { metrics: { heldOutImages: split.heldOut.length, trainLabeled: split.train.length, heldOutBasis } });

    // "How it learns": a few unlabeled images of every SAMPLES_EVERY-th step, as that step saw them.
    const imageIdOfFrame = new Map([...cache.frameOf].map(([imageId, frame]) => [frame, imageId]));
    const samples = sampleRecorder(db, run.id, runDir(run.id), (frame) => imageIdOfFrame.get(frame)!, ctx.log);
    let cancelled = false;
    let lastCheck = 0;
    let message = "training";
    let fraction = 0;
    const result = await train({
      config,
      data: { cache, labeled: split.train, heldOut: split.heldOut, unlabeled: snapshot.imageIds.filter((id) => cache.frameOf.has(id)).map((id) => cache.frameOf.get(id)!) },
      runDir: runDir(run.id),
      // Fine-tune mode: the backbone's first download shows in the run card.
      backbone: {
        dataDir: getEnv().dataDir,
        onProgress: (p) => ctx.progress(0, `downloading backbone ${(p.bytesDone / 1e6).toFixed(1)}/${(p.bytesTotal / 1e6).toFixed(1)} MB`),
      },
      onSamples: samples.record,
      samplesEvery: SAMPLES_EVERY,
      onStart: (fromStep) => {
        const dropped = dropProgressAfter(db, run.id, fromStep);
        if (dropped) ctx.log(`run ${run.id} resumes from step ${fromStep}: dropped ${dropped} progress row(s) past it`);
      },
      shouldStop: () => {
        if (Date.now() - lastCheck >= CANCEL_CHECK_MS) {
          lastCheck = Date.now();
          cancelled ||= ctx.progress(fraction, message);
        }
        return cancelled || ctx.signal.aborted;
      },
      onProgress: (p) => {
        addProgress(db, { runId: run.id, step: p.step, lr: p.lr, lossSup: p.lossSup, lossUnsup: p.lossUnsup, maskRate: p.maskRate, pseudoAcc: p.pseudoAcc, heldoutAcc: p.heldOutAcc, imagesPerS: p.imagesPerS, etaS: p.etaS, perClass: p.perClass });
        fraction = p.fraction;
        message = describeProgress(p, split.heldOut.length);
        lastCheck = Date.now();
        cancelled ||= ctx.progress(fraction, message);
      },
    });

    // heldOutAcc is k / n exactly; the count is kept so every reader can show n and an interval.
    const heldOutCorrect = result.heldOutAcc === null ? null : Math.round(result.heldOutAcc * split.heldOut.length);
    const metrics = { step: result.step, heldOutAcc: result.heldOutAcc, heldOutCorrect, heldOutImages: split.heldOut.length, trainLabeled: split.train.length, heldOutBasis };
    if (result.status === "finished") {
      await writeModelExport(ctx, run.id, config.backbone);
      updateRun(db, run.id, { status: "succeeded", step: result.step, finishedAt: Date.now(), metrics });
      enqueueJob(db, "predict", { projectId: run.projectId, runId: run.id });
    } else if (cancelled) {
      updateRun(db, run.id, { status: "stopped", step: result.step, finishedAt: Date.now(), metrics });
    } else {
      // Worker shutting down: the job goes back to the queue and resumes from this checkpoint.
      updateRun(db, run.id, { status: "queued", step: result.step });
    }
    return { runId: run.id, ...metrics, status: result.status };
  } catch (err) {
    updateRun(db, run.id, { status: "failed", finishedAt: Date.now(), error: err instanceof Error ? err.message : String(err) });
    throw err;
  }
}

/** Joins the per-chunk features of the images predicted so far (all of them, unless cancelled) into one file. */
async function writePredictEmbeddings(dir: string, imageIds: readonly number[], chunks: readonly Float32Array[], dim: number): Promise<Embeddings> {
  const values = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    values.set(c, offset);
    offset += c.length;
  }
  const embeddings = { dim, imageIds: imageIds.slice(0, dim === 0 ? 0 : values.length / dim), values };
  await writeEmbeddings(dir, embeddings);
  return embeddings;
}

/**
 * Temperature scaling fitted on the run's held-out human labels (the same split the trainer held
 * out, ground-truth.ts), with the truth as the snapshot recorded it. Below MIN_EVIDENCE_N labels the
 * run stays uncalibrated and says so.
 */
export async function fitRunCalibration(run: TrainingRunRow, model: Parameters<typeof predictProbsAndEmbeddings>[0], cache: PixelCache): Promise<StoredCalibration> {
  const snapshot = readRunSnapshot(run.id);
  if (!snapshot) return { fit: null, n: 0, reason: "the run's data snapshot is missing" };
  const heldOut = splitRunLabels(snapshotLabels(snapshot, (id) => cache.frameOf.has(id))).heldOut.sort((a, b) => a.imageId - b.imageId);
  if (heldOut.length < MIN_EVIDENCE_N) return { fit: null, n: heldOut.length, reason: `not enough labels (n=${heldOut.length})` };
  const { probs } = await predictProbsAndEmbeddings(model, cache, heldOut.map((e) => cache.frameOf.get(e.imageId)!));
  const k = snapshot.classIds.length;
  const logits = heldOut.map((_, i) => logitsFromProbs(probs.subarray(i * k, (i + 1) * k)));
  return { fit: calibrate(logits, heldOut.map((e) => e.classIndex)), n: heldOut.length, reason: null };
}

/** Predictions are written this many images at a time, so memory stays bounded on big projects. */
const PREDICT_CHUNK = 1024;

export async function handlePredict(ctx: JobContext, payload: JobPayload<"predict">) {
  const { db } = ctx;
  const run = getRun(db, payload.runId);
  const { classIds, train: trained } = run.config as { classIds: number[]; train?: TrainConfig };
  // A frozen-backbone run: its small head on the training backend, its backbone on the forward one (train-frozen.ts).
  if (isFrozenBackboneRun(trained)) {
    await selectTrainingBackend();
    return predictFrozen(ctx, run);
  }
  // The whole job on the forward backend: the model's weights are made there.
  await selectForwardBackend();
  const { model: trainedModel, config } = await loadTrainedModel(runDir(run.id));
  // BatchNorms folded into the convolutions once for the whole job (lib/ml/infer.ts inferenceModel);
  // every chunk below reuses it.
  const folded = inferenceModel(trainedModel);
  const model = folded.model;
  try {
    const images = listImagesWithLabels(db, run.projectId);
    const imageIds = images.map((r) => r.id);
    const cache = await loadPixels(db, run.projectId, imageIds, config.inputSize, config.channels);
    // Calibration first (a forward pass over the held-out human labels only), so every prediction row gets its calibrated confidence.
    const calibration = await fitRunCalibration(run, model, cache);
    const temperature = calibration.fit?.temperature ?? null;
    updateRun(db, run.id, { metrics: { ...((getRun(db, run.id).metrics as object | null) ?? {}), calibration } });
    // Penultimate-layer features for "label next" (lib/review/next.ts), kept per chunk and written once at the end.
    const embeddingChunks: Float32Array[] = [];
    let embeddingDim = 0;
    for (let start = 0; start < imageIds.length; start += PREDICT_CHUNK) {
      const ids = imageIds.slice(start, start + PREDICT_CHUNK);
      const { probs, embeddings, dim } = await predictProbsAndEmbeddings(model, cache, ids.map((id) => cache.frameOf.get(id)!));
      embeddingChunks.push(embeddings);
      embeddingDim = dim;
      writePredictions(
        db,
        ids.map((imageId, i) => {
          const p = Array.from(probs.subarray(i * classIds.length, (i + 1) * classIds.length));
          const top = p.indexOf(Math.max(...p));
          const calibratedConfidence = temperature === null ? null : calibratedConfidenceOf(p, temperature);
          return { projectId: run.projectId, imageId, runId: run.id, modelVersion: run.modelVersion, probs: p, topClassId: classIds[top], confidence: p[top], calibratedConfidence };
        }),
      );
      if (ctx.progress((start + ids.length) / imageIds.length, `predicted ${start + ids.length}/${imageIds.length} images`)) break;
    }
    const embeddings = await writePredictEmbeddings(runDir(run.id), imageIds, embeddingChunks, embeddingDim);
    // Suspicious labels are judged by heads that did not train on them (lib/review/out-of-fold.ts).
    ctx.progress(1, "judging labels out of fold");
    const indexOf = new Map(classIds.map((id, i) => [id, i]));
    const labeledNow = images.filter((r) => r.classId !== null && indexOf.has(r.classId)).map((r) => ({ imageId: r.id, classIndex: indexOf.get(r.classId!)! }));
    if (embeddings.dim > 0) await writeOutOfFold(runDir(run.id), outOfFoldProbs(embeddings, labeledNow, classIds.length));
    return { runId: run.id, modelVersion: run.modelVersion, images: imageIds.length };
  } finally {
    folded.dispose();
    trainedModel.dispose();
  }
}

/** A failed export does not fail the run: its model is fine, and "export.model" can write the files later. */
async function writeModelExport(ctx: JobContext, runId: number, backbone: TrainConfig["backbone"] = null): Promise<void> {
  try {
    await exportRunModel(runDir(runId), backbone ? { ref: backbone, dataDir: getEnv().dataDir } : null);
  } catch (err) {
    ctx.log(`model export of run ${runId} failed (the download will retry it): ${err instanceof Error ? err.message : String(err)}`);
  }
}

export async function handleExportModel(ctx: JobContext, payload: JobPayload<"export.model">) {
  const run = getRun(ctx.db, payload.runId);
  if (run.projectId !== payload.projectId) throw new Error(`run ${run.id} belongs to project ${run.projectId}`);
  await ensureBackend();
  // A frozen-backbone run's export is its backbone + head composed (lib/ml/backbones/compose.ts).
  const backbone = (run.config as { train?: TrainConfig } | null)?.train?.backbone;
  const dir = await exportRunModel(runDir(run.id), backbone ? { ref: backbone, dataDir: getEnv().dataDir } : null);
  return { runId: run.id, modelVersion: run.modelVersion, dir };
}
