/**
 * The train handler records "How it learns" samples: rows in training_samples, PNG views under
 * runs/<id>/samples/<step>/, per-class progress; the web side reads them back (lib/training/samples.ts).
 */
import fs from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { recordSampleEvent } from "@/lib/db/queries/samples";
import { createRun, listProgress } from "@/lib/db/queries/training";
import { makeProject } from "@/lib/dataset/test-fixtures";
import { enqueueJob } from "@/lib/jobs";
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from "@/lib/ml/config";
import { makeTestDb } from "@/lib/testing/db";
import { getRunSamples, readSampleImage } from "@/lib/training/samples";
import type { JobContext } from "../context";
import { addBrightDarkImages, TINY_TRAIN } from "./test-fixtures";
import { handleTrain, runDir } from "./train";

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

const SMALL: Partial<TrainConfig> = { ...TINY_TRAIN, threshold: 0.6, logEvery: 5 };

function context(jobId: number): JobContext {
  return { db, jobId, workerId: "test", progress: () => false, log: () => undefined, signal: new AbortController().signal };
}

it("records the last step's samples (rows + PNGs) and per-class progress; the web side serves them", async () => {
  const train = { ...DEFAULT_TRAIN_CONFIG, ...SMALL, steps: 10 };
  const run = createRun(db, { projectId, mode: "fixmatch", totalSteps: 10, config: { request: { mode: "fixmatch", preset: "quick-cpu" }, train } });
  const job = enqueueJob(db, "train", { projectId, runId: run.id });
  await handleTrain(context(job.id), { projectId, runId: run.id });

  const view = getRunSamples(db, run.id);
  expect(view.step).toBe(10);
  expect(view.steps).toEqual([10]);
  expect(view.threshold).toBe(0.6);
  expect(view.classes.map((c) => c.name).sort()).toEqual(["bright", "dark"]);
  expect(view.samples).toHaveLength(6); // of the mu * B = 8 unlabeled images of the step
  for (const s of view.samples) {
    expect(s.maskedIn).toBe(s.weak.confidence >= s.threshold);
    expect(s.strong.loss).toBeGreaterThanOrEqual(0);
    expect(s.strong.ops).toMatch(/Cutout/);
    const file = s.strong.url.split("/").at(-1)!;
    const png = await readSampleImage(run.id, 10, file);
    expect((await sharp(png).metadata()).width).toBe(8);
  }
  expect(fs.readdirSync(path.join(runDir(run.id), "samples"))).toEqual(["10"]);
  await expect(readSampleImage(run.id, 10, "../data.json")).rejects.toThrow(/file name/);

  const progress = listProgress(db, run.id);
  expect(progress.at(-1)!.perClass).toMatchObject({ maskRate: expect.any(Array), pseudoAcc: expect.any(Array) });
});

it("keeps the last few sample events and replaces a repeated step (a resumed run)", () => {
  const run = createRun(db, { projectId, mode: "fixmatch", totalSteps: 10, config: {} });
  const row = (position: number) => ({
    position,
    imageId: 1,
    weakOps: { ops: [], text: "" },
    strongOps: { ops: [], text: "" },
    weakClassIndex: 0,
    weakConfidence: 0.5,
    threshold: 0.9,
    maskedIn: false,
    strongClassIndex: 0,
    strongConfidence: 0.5,
    loss: 1,
    weakPath: `${position}-weak.png`,
    strongPath: `${position}-strong.png`,
  });
  for (const step of [1, 2, 3]) recordSampleEvent(db, run.id, step, [row(0), row(1)], 3);
  expect(recordSampleEvent(db, run.id, 4, [row(0), row(1)], 3)).toEqual([4, 3, 2]);
  // A resumed run repeats step 3: the earlier try's rows at and after it go.
  expect(recordSampleEvent(db, run.id, 3, [row(0)], 3)).toEqual([3, 2]);
  expect(getRunSamples(db, run.id).steps).toEqual([3, 2]);
  expect(getRunSamples(db, run.id).samples).toHaveLength(1);
});
