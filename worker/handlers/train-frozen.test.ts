/**
 * A frozen-backbone "train" job on the tiny bright/dark project (24 gray 8x8 PNGs, 10 labeled),
 * with "your own backbone": a small conv net the test saves as a tfjs layers model folder and names
 * by path, loaded through the real loader (lib/ml/backbones).
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { labels } from "@/lib/db/schema";
import { createRun, getRun, listPredictions, listProgress, type RunRequest } from "@/lib/db/queries/training";
import { makeProject } from "@/lib/dataset/test-fixtures";
import { enqueueJob, listJobs } from "@/lib/jobs";
import type { BackboneRef } from "@/lib/ml/backbones/types";
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from "@/lib/ml/config";
import { readEmbeddings } from "@/lib/ml/embeddings";
import { loadCheckpoint } from "@/lib/ml/checkpoint";
import { extractPlainFeatures, type HeadTrainConfig } from "@/lib/ml/features";
import { saveLayersModel } from "@/lib/ml/model-files";
import { decodeImage } from "@/lib/ml/pixels";
import { relativeError } from "@/lib/ml/testing";
import * as tf from "@/lib/ml/tf";
import { listImagesWithLabels } from "@/lib/db/queries/training";
import { blobPath } from "@/lib/storage";
import { makeTestDb } from "@/lib/testing/db";
import type { JobContext } from "../context";
import { readOutOfFold } from "@/lib/review/out-of-fold";
import { addBrightDarkImages } from "./test-fixtures";
import { ensureBackend } from "../backend";
import { handlePredict, handleTrain, runDir } from "./train";
import { loadSavedHead, type SavedHeadInfo } from "./train-frozen";

let db: Db;
let dataDir: string;
let cleanup: () => void;
let projectId: number;

beforeEach(async () => {
  await ensureBackend();
  ({ db, dataDir, cleanup } = makeTestDb());
  projectId = makeProject(db);
  await addBrightDarkImages(db, projectId, dataDir);
  // Labeled by hand: only human labels are held out (imported ones always train).
  db.update(labels).set({ source: "human" }).run();
});
afterEach(() => cleanup());

/** conv 3x3 (6 filters, relu) on 8x8 RGB, cut there; the loader adds global average pooling. */
async function saveTinyBackbone(): Promise<BackboneRef> {
  const input = tf.input({ shape: [8, 8, 3] });
  const conv = tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: "same", activation: "relu", name: "features", kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }), biasInitializer: "ones" }).apply(input) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: 3, name: "old_top" }).apply(tf.layers.flatten().apply(conv)) as tf.SymbolicTensor;
  const folder = path.join(dataDir, "my-backbone");
  await saveLayersModel(tf.model({ inputs: input, outputs: logits }), folder);
  return { kind: "custom", source: folder, cutLayer: "features", preprocessing: { inputSize: 8, channels: 3, scale: 1 / 255, offset: 0 } };
}

async function newRun(overrides: Partial<TrainConfig> = {}) {
  const backbone = await saveTinyBackbone();
  const train: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, inputSize: 8, channels: 1, numClasses: 2, threshold: 0.9, steps: 3000, backbone, backboneMode: "frozen", ...overrides };
  const run = createRun(db, { projectId, mode: "fixmatch", totalSteps: 3000, config: { request: { mode: "fixmatch", preset: "quick-cpu" }, train, head: { steps: 400, evalEvery: 100, logEvery: 20, checkpointEvery: 100 } } });
  const job = enqueueJob(db, "train", { projectId, runId: run.id });
  return { run, job, backbone };
}

function context(jobId: number, onProgress?: (fraction: number, message: string) => boolean | void): JobContext {
  return { db, jobId, workerId: "test", progress: (f, m) => onProgress?.(f, m ?? "") ?? false, log: () => undefined, signal: new AbortController().signal };
}

it("features, instant proposals before the head trains, the FixMatch head, the chosen head saved, predictions and embeddings from plain features", async () => {
  const { run, job, backbone } = await newRun();
  const messages: string[] = [];
  let predictionsWhenHeadStarted = -1;
  const result = await handleTrain(
    context(job.id, (_, message) => {
      messages.push(message);
      if (predictionsWhenHeadStarted < 0 && message.startsWith("FixMatch head")) predictionsWhenHeadStarted = listPredictions(db, projectId, run.id).length;
    }),
    { projectId, runId: run.id },
  );
  expect(result.status).toBe("finished");
  // Progress in the run card: features with images/s, then the head.
  expect(messages.some((m) => /^features 24\/24 images \(\d+(\.\d)? images\/s\)$/.test(m))).toBe(true);
  expect(messages.some((m) => m.startsWith("features of 4 weak + 4 strong views 24/24"))).toBe(true);
  // The instant proposals were there for review before the FixMatch head's first step.
  expect(predictionsWhenHeadStarted).toBe(24);

  const done = getRun(db, run.id);
  expect(done.status).toBe("succeeded");
  const metrics = done.metrics as { headKind: string; heads: Record<string, number | null>; heldOutImages: number; heldOutAcc: number; secondsPer1000Steps: number; instantProposalsAfterS: number };
  expect(["fixmatch", "linear-probe", "class-mean"]).toContain(metrics.headKind);
  expect(Object.keys(metrics.heads).sort()).toEqual(["class-mean", "fixmatch", "linear-probe"]);
  // 5 labels per class: 1 of each held out; the rule: FixMatch only when strictly better than the instant head.
  expect(metrics.heldOutImages).toBe(2);
  const instantKind = (metrics.heads["class-mean"] ?? -1) > (metrics.heads["linear-probe"] ?? -1) ? "class-mean" : "linear-probe";
  expect(metrics.headKind).toBe(metrics.heads.fixmatch! > metrics.heads[instantKind]! ? "fixmatch" : instantKind);
  expect(metrics.heldOutAcc).toBe(metrics.heads[metrics.headKind]);
  expect(listProgress(db, run.id).map((p) => p.step).slice(0, 3)).toEqual([20, 40, 60]);
  expect(listJobs(db, { projectId }).some((j) => j.type === "predict")).toBe(false);

  // The saved head takes RAW backbone features; its predictions are the rows written.
  const { head, info } = await loadSavedHead(runDir(run.id));
  expect(info).toMatchObject<Partial<SavedHeadInfo>>({ headKind: metrics.headKind as SavedHeadInfo["headKind"], featureDim: 6, numClasses: 2 });
  expect(head.inputs[0].shape).toEqual([null, 6]);
  const rows = listImagesWithLabels(db, projectId);
  const { loadBackbone } = await import("@/lib/ml/backbones");
  const loaded = await loadBackbone(backbone, { dataDir });
  const plain = await extractPlainFeatures({ backbone: loaded, images: rows.map((r) => ({ sha256: r.sha256, load: () => decodeImage(blobPath(r.sha256), 8, 3) })), dir: path.join(dataDir, "features") });
  const probs = tf.tidy(() => tf.softmax(head.predict(tf.tensor2d(plain, [rows.length, 6])) as tf.Tensor).dataSync());
  const predictions = new Map(listPredictions(db, projectId, run.id).map((p) => [p.imageId, p]));
  expect(predictions.size).toBe(24);
  rows.forEach((r, i) => expect(relativeError(predictions.get(r.id)!.probs, probs.subarray(2 * i, 2 * i + 2))).toBeLessThan(1e-4));
  // Bright vs dark is easy for any head: every image (odd = bright) gets its class.
  const classOfBright = predictions.get(rows[1].id)!.topClassId;
  rows.forEach((r, i) => expect(predictions.get(r.id)!.topClassId === classOfBright).toBe(i % 2 === 1));

  // Embeddings: the backbone's pooled plain features, one row per image.
  const embeddings = readEmbeddings(runDir(run.id))!;
  expect(embeddings.dim).toBe(6);
  expect(embeddings.imageIds).toEqual(rows.map((r) => r.id));
  expect(relativeError(embeddings.values, plain)).toBeLessThan(1e-6);
  // As an image run: labels judged out of fold on those features, calibration tried on the 2
  // held-out human labels (too few: uncalibrated, and it says why), the download's model files written.
  expect([...(readOutOfFold(runDir(run.id))?.probsOf.keys() ?? [])].sort((a, b) => a - b)).toEqual(rows.filter((r) => r.classId !== null).map((r) => r.id).sort((a, b) => a - b));
  expect((getRun(db, run.id).metrics as { calibration: unknown }).calibration).toEqual({ fit: null, n: 2, reason: "not enough labels (n=2)" });
  expect(fs.existsSync(path.join(runDir(run.id), "export", "model.json"))).toBe(true);

  // The predict job of such a run: the saved head over the cached features, same rows.
  const predictJob = enqueueJob(db, "predict", { projectId, runId: run.id });
  await handlePredict(context(predictJob.id), { projectId, runId: run.id });
  const again = listPredictions(db, projectId, run.id);
  expect(again).toHaveLength(24);
  again.forEach((p) => expect(relativeError(p.probs, predictions.get(p.imageId)!.probs)).toBeLessThan(1e-5));
  head.dispose();
});

it("a cancel during the head stops the run with the instant proposals kept; the run resumes the head from its checkpoint", async () => {
  const { run, job } = await newRun();
  const result = await handleTrain(context(job.id, (fraction) => fraction > 0.6), { projectId, runId: run.id });
  expect(result.status).toBe("stopped");
  const stopped = getRun(db, run.id);
  expect(stopped.status).toBe("stopped");
  expect(stopped.step).toBeGreaterThan(0);
  expect((stopped.metrics as { headKind: string }).headKind).toMatch(/linear-probe|class-mean/);
  expect(listPredictions(db, projectId, run.id)).toHaveLength(24);
  expect(fs.existsSync(path.join(runDir(run.id), "head-train", "checkpoint.bin"))).toBe(true);
  expect(fs.existsSync(path.join(runDir(run.id), "head"))).toBe(false);

  // Claimed again (a resume): the features come from the cache, the head continues from its checkpoint.
  const rowsBefore = listProgress(db, run.id).length;
  const resumed = await handleTrain(context(job.id), { projectId, runId: run.id });
  expect(resumed).toMatchObject({ status: "finished", step: 400 });
  const steps = listProgress(db, run.id).sort((a, b) => a.id - b.id).map((p) => p.step);
  // The first row of the resumed run is the next window after the stopped step, not step 20 again.
  expect(steps[rowsBefore]).toBe(Math.floor(stopped.step / 20) * 20 + 20);
  expect(getRun(db, run.id).status).toBe("succeeded");
});

it("the head takes HEAD_DEFAULTS over the preset's B, mu and alignment, but the user's own choices in the run request win", async () => {
  const backbone = await saveTinyBackbone();
  const preset = { batchSize: 16, mu: 3, distributionAlignment: false, emaDecay: 0.99 };
  const headOf = async (request: RunRequest, train: Partial<TrainConfig>) => {
    const config: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, inputSize: 8, channels: 1, numClasses: 2, threshold: 0.9, steps: 500, backbone, backboneMode: "frozen", ...train };
    const run = createRun(db, { projectId, mode: "fixmatch", totalSteps: 500, config: { request, train: config, head: { steps: 40, evalEvery: 20, logEvery: 20, checkpointEvery: 20 } } });
    const job = enqueueJob(db, "train", { projectId, runId: run.id });
    await handleTrain(context(job.id), { projectId, runId: run.id });
    return (await loadCheckpoint<{ config: HeadTrainConfig }>(path.join(runDir(run.id), "head-train")))!.meta.config;
  };
  // No choices: the quick-cpu preset's B=16, mu=3, no alignment give way to the head's defaults.
  const byDefault = await headOf({ mode: "fixmatch", preset: "quick-cpu" }, preset);
  expect(byDefault).toMatchObject({ batchSize: 64, mu: 7, distributionAlignment: true, emaDecay: 0.99, steps: 40 });
  // Set in the advanced settings (the request's overrides, also merged into the run's config).
  const chosen = { batchSize: 8, mu: 2, distributionAlignment: false, emaDecay: 0.9 };
  const byUser = await headOf({ mode: "fixmatch", preset: "quick-cpu", overrides: chosen }, { ...preset, ...chosen });
  expect(byUser).toMatchObject({ ...chosen, steps: 40 });
});
