/**
 * Calibration in the predict job, end to end on a tiny project the test makes: 60 gray 8x8 PNGs,
 * dark or bright, 50 of them labeled by a person (so 10 are held out: 5 per class), a few steps of
 * training, then predict: the run stores a temperature fitted on those 10 held-out human labels,
 * and every prediction row carries the top class's probability after that temperature; the labels
 * are judged out of fold for "suspicious labels".
 */
import path from "node:path";
import sharp from "sharp";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { ingestFile } from "@/lib/dataset/ingest";
import { setHumanLabels } from "@/lib/db/queries/labels";
import { createProject, getProjectWithClasses } from "@/lib/db/queries/projects";
import { createRun, getRun, listPredictions } from "@/lib/db/queries/training";
import { enqueueJob } from "@/lib/jobs";
import { calibratedConfidence, type StoredCalibration } from "@/lib/ml/calibration";
import { DEFAULT_TRAIN_CONFIG } from "@/lib/ml/config";
import { seededValues } from "@/lib/ml/testing";
import { makeTestDb } from "@/lib/testing/db";
import type { JobContext } from "../context";
import { TINY_TRAIN } from "./test-fixtures";
import { readOutOfFold } from "@/lib/review/out-of-fold";
import { handlePredict, handleTrain, runDir } from "./train";

let db: Db;
let dataDir: string;
let cleanup: () => void;
beforeEach(() => ({ db, dataDir, cleanup } = makeTestDb()));
afterEach(() => cleanup());

const context = (jobId: number): JobContext => ({ db, jobId, workerId: "test", progress: () => false, log: () => undefined, signal: new AbortController().signal });

it("predict fits a temperature on the held-out human labels and writes calibrated confidences", async () => {
  const projectId = createProject(db, { name: "shades", classes: [{ name: "dark" }, { name: "bright" }] }).id;
  const [dark, bright] = getProjectWithClasses(db, projectId).classes.map((c) => c.id);
  const noise = seededValues(60 * 64, 9);
  const ids: number[] = [];
  for (let i = 0; i < 60; i++) {
    const pixels = Buffer.from(Array.from({ length: 64 }, (_, p) => (i % 2 ? 170 : 80) + Math.round(60 * noise[i * 64 + p])));
    const file = path.join(dataDir, `img${i}.png`);
    await sharp(pixels, { raw: { width: 8, height: 8, channels: 1 } }).toColourspace("b-w").png().toFile(file);
    const result = await ingestFile(db, { projectId, filePath: file, originalName: `img${i}.png`, label: null, actor: "test" });
    ids.push((result as { imageId: number }).imageId);
  }
  setHumanLabels(db, projectId, { imageIds: ids.slice(0, 50).filter((_, i) => i % 2 === 0), classId: dark }, "ann");
  setHumanLabels(db, projectId, { imageIds: ids.slice(0, 50).filter((_, i) => i % 2 === 1), classId: bright }, "ann");

  const train = { ...DEFAULT_TRAIN_CONFIG, ...TINY_TRAIN, steps: 8 };
  const run = createRun(db, { projectId, mode: "fixmatch", totalSteps: 8, config: { request: { mode: "fixmatch", preset: "quick-cpu" }, train } });
  const job = enqueueJob(db, "train", { projectId, runId: run.id });
  await handleTrain(context(job.id), { projectId, runId: run.id });
  expect(getRun(db, run.id).metrics).toMatchObject({ heldOutBasis: "human", heldOutImages: 10, trainLabeled: 40 });
  await handlePredict(context(job.id), { projectId, runId: run.id });

  const stored = (getRun(db, run.id).metrics as { calibration: StoredCalibration }).calibration;
  expect(stored.reason).toBeNull();
  expect(stored.n).toBe(10);
  const fit = stored.fit!;
  expect(fit.n).toBe(10);
  expect(fit.temperature).toBeGreaterThan(0.05);
  expect(fit.temperature).toBeLessThan(20);
  expect(Number.isFinite(fit.eceBefore) && Number.isFinite(fit.eceAfter)).toBe(true);
  expect(fit.reliabilityBefore.reduce((s, b) => s + b.count, 0)).toBe(10);
  // The held-out figures of the trainer are still in the metrics next to the calibration.
  expect(getRun(db, run.id).metrics).toMatchObject({ heldOutBasis: "human", heldOutImages: 10 });
  const rows = listPredictions(db, projectId, run.id);
  expect(rows).toHaveLength(60);
  for (const r of rows) expect(r.calibratedConfidence).toBeCloseTo(calibratedConfidence(r.probs, fit.temperature), 5);
  // The same job judged the 50 labels out of fold for "suspicious labels": one probability row per labeled image.
  const oof = readOutOfFold(runDir(run.id))!;
  expect(oof.probsOf.size).toBe(50);
  expect([...oof.probsOf.values()].every((p) => p.length === 2 && Math.abs(p[0] + p[1] - 1) < 1e-5)).toBe(true);
}, 120_000);
