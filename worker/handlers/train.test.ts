/**
 * The train and predict handlers on a tiny generated project: 24 gray 8x8 PNGs, dark or bright,
 * 5 of each class labeled through the import path, the rest unlabeled.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { createRun, getRun, listPredictions, listProgress } from "@/lib/db/queries/training";
import { queueTrainingRun } from "@/lib/training/runs";
import { makeProject } from "@/lib/dataset/test-fixtures";
import { enqueueJob, listJobs } from "@/lib/jobs";
import { loadCheckpoint } from "@/lib/ml/checkpoint";
import { readEmbeddings } from "@/lib/ml/embeddings";
import { DEFAULT_TRAIN_CONFIG, type TrainCheckpointMeta, type TrainConfig } from "@/lib/ml/config";
import { makeTestDb } from "@/lib/testing/db";
import type { JobContext } from "../context";
import { addBrightDarkImages, TINY_TRAIN } from "./test-fixtures";
import { handleExportModel, handlePredict, handleTrain, runDir } from "./train";

let db: Db;
let dataDir: string;
let cleanup: () => void;
let projectId: number;

beforeEach(async () => {
  ({ db, dataDir, cleanup } = makeTestDb());
  projectId = makeProject(db);
  await addBrightDarkImages(db, projectId, dataDir);
});
afterEach(() => cleanup());

const SMALL: Partial<TrainConfig> = { ...TINY_TRAIN, threshold: 0.9, logEvery: 1 };

function newRun(steps: number) {
  const train = { ...DEFAULT_TRAIN_CONFIG, ...SMALL, steps };
  const run = createRun(db, { projectId, mode: "fixmatch", totalSteps: steps, config: { request: { mode: "fixmatch", preset: "quick-cpu" }, train } });
  const job = enqueueJob(db, "train", { projectId, runId: run.id });
  return { run, job };
}

/** progress() answers `cancelAt(fraction)`, or throws (a worker dying mid-step) when `dieAt` says so. */
function context(jobId: number, opts: { cancelAt?: (fraction: number) => boolean; dieAt?: (fraction: number) => boolean } = {}): JobContext {
  return {
    db,
    jobId,
    workerId: "test",
    progress: (fraction) => {
      if (opts.dieAt?.(fraction)) throw new Error("worker died");
      return opts.cancelAt?.(fraction) ?? false;
    },
    log: () => undefined,
    signal: new AbortController().signal,
  };
}

it("trains, records progress, queues predict, and predict writes a row per image with the model version", async () => {
  const { run, job } = newRun(10);
  const result = await handleTrain(context(job.id), { projectId, runId: run.id });
  expect(result.status).toBe("finished");
  const done = getRun(db, run.id);
  expect(done).toMatchObject({ status: "succeeded", step: 10, backend: "wasm", modelVersion: `p${projectId}-r${run.id}` });
  expect((done.config as { classIds: number[] }).classIds).toHaveLength(2);
  expect(listProgress(db, run.id).map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  expect(fs.existsSync(path.join(dataDir, "cache", String(projectId), "8-1.u8"))).toBe(true);

  const predict = listJobs(db, { projectId }).find((j) => j.type === "predict");
  expect(predict?.payload).toEqual({ projectId, runId: run.id });
  await handlePredict(context(predict!.id), { projectId, runId: run.id });
  const rows = listPredictions(db, projectId, run.id);
  expect(rows).toHaveLength(24);
  expect(rows.every((r) => r.modelVersion === `p${projectId}-r${run.id}` && r.probs.length === 2)).toBe(true);
  expect(rows[0].confidence).toBe(Math.max(...rows[0].probs));
  // Penultimate features for "label next": one row per image, as wide as the last stage (width 4 doubled twice).
  const embeddings = readEmbeddings(runDir(run.id))!;
  expect(embeddings.imageIds).toHaveLength(24);
  expect(embeddings.dim).toBe(16);
  expect(embeddings.values).toHaveLength(24 * 16);
  expect(embeddings.values.every(Number.isFinite)).toBe(true);
});

it("a cancel stops cleanly: status stopped, last checkpoint kept", async () => {
  const { run, job } = newRun(20);
  const result = await handleTrain(context(job.id, { cancelAt: (f) => f >= 3 / 20 }), { projectId, runId: run.id });
  expect(result.status).toBe("stopped");
  expect(getRun(db, run.id)).toMatchObject({ status: "stopped", step: 3 });
  expect((await loadCheckpoint<TrainCheckpointMeta>(runDir(run.id)))!.meta.step).toBe(3);
  expect(listJobs(db, { projectId }).some((j) => j.type === "predict")).toBe(false);
});

it("a run that dies mid-way resumes from its checkpoint step on the next claim, not from 0", async () => {
  const { run, job } = newRun(12);
  // Dies at step 8, after the checkpoint of step 5, without any clean-up path running.
  await expect(handleTrain(context(job.id, { dieAt: (f) => f >= 8 / 12 }), { projectId, runId: run.id })).rejects.toThrow("worker died");
  expect((await loadCheckpoint<TrainCheckpointMeta>(runDir(run.id)))!.meta.step).toBe(5);

  const result = await handleTrain(context(job.id), { projectId, runId: run.id });
  expect(result).toMatchObject({ status: "finished", step: 12 });
  // In the order written: steps 1-5 by the run that died (its 6-8 came after the step-5 checkpoint
  // and are dropped on resume), then 6-12 by the resumed one: one chart point per step.
  const written = listProgress(db, run.id).sort((a, b) => a.id - b.id);
  expect(written.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  const diedRunMaxId = Math.max(...written.slice(0, 5).map((p) => p.id));
  expect(written.slice(5).every((p) => p.id > diedRunMaxId + 3)).toBe(true); // 6-8 are the resumed run's rows
  expect(getRun(db, run.id).status).toBe("succeeded");
});

it("a queued request resolves preset + overrides + steps into the config the run stores", async () => {
  const queued = queueTrainingRun(
    db,
    projectId,
    { mode: "supervised", preset: "quick-cpu", steps: 3, seed: 9, overrides: { model: { kind: "resnet", width: 4, blocks: 1 }, inputSize: 8, batchSize: 4 } },
    500,
  );
  expect(queued.modelVersion).toBe(`p${projectId}-r${queued.id}`);
  expect(queued.jobId).toBe(listJobs(db, { projectId }).find((j) => j.type === "train")!.id);
  await handleTrain(context(queued.jobId!), { projectId, runId: queued.id });
  const run = getRun(db, queued.id);
  expect(run).toMatchObject({ status: "succeeded", step: 3, totalSteps: 3 });
  // quick-cpu's own values stay where no override replaces them; gray images give 1 channel.
  expect((run.config as { train: TrainConfig }).train).toMatchObject({ mode: "supervised", inputSize: 8, batchSize: 4, mu: 3, emaDecay: 0.99, seed: 9, channels: 1, numClasses: 2 });
});

it("a finished run has its model files for the download; export.model rewrites them for runs without", async () => {
  const { run, job } = newRun(5);
  await handleTrain(context(job.id), { projectId, runId: run.id });
  const exportDir = path.join(runDir(run.id), "export");
  expect(fs.readdirSync(exportDir).sort()).toEqual(["group1-shard1of1.bin", "model.json"]);

  // A run that finished before exports existed.
  fs.rmSync(exportDir, { recursive: true });
  const exportJob = enqueueJob(db, "export.model", { projectId, runId: run.id });
  const result = await handleExportModel(context(exportJob.id), { projectId, runId: run.id });
  expect(result).toMatchObject({ runId: run.id, modelVersion: `p${projectId}-r${run.id}` });
  const modelJson = JSON.parse(fs.readFileSync(path.join(exportDir, "model.json"), "utf8")) as { format: string; weightsManifest: { paths: string[] }[] };
  expect(modelJson.format).toBe("layers-model");
  expect(modelJson.weightsManifest[0].paths).toEqual(["group1-shard1of1.bin"]);
});
