/** The project's augmentation toggles: the preview job renders under them, and the trainer uses them. */
import fs from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { AUGMENT_OP_NAMES, setAugmentToggles } from "@/lib/db/queries/project-settings";
import { getRun } from "@/lib/db/queries/training";
import { queueTrainingRun } from "@/lib/training/runs";
import { ingestFile } from "@/lib/dataset/ingest";
import { makeProject } from "@/lib/dataset/test-fixtures";
import { claimJob, finishJob } from "@/lib/jobs";
import { STRONG_OP_NAMES } from "@/lib/ml/augment";
import type { TrainConfig } from "@/lib/ml/config";
import { makeTestDb } from "@/lib/testing/db";
import { getAugmentPreview, previewDir, queueAugmentPreview } from "@/lib/training/augment-preview";
import type { JobContext } from "../context";
import { handleAugmentPreview } from "./augment-preview";
import { handleTrain } from "./train";

let db: Db;
let dataDir: string;
let cleanup: () => void;
let projectId: number;

beforeEach(async () => {
  ({ db, dataDir, cleanup } = makeTestDb());
  projectId = makeProject(db);
  for (let i = 0; i < 12; i++) {
    const pixels = Buffer.from(Array.from({ length: 64 * 3 }, (_, p) => (p * 7 + i * 31) % 256));
    const file = path.join(dataDir, `img${i}.png`);
    await sharp(pixels, { raw: { width: 8, height: 8, channels: 3 } }).png().toFile(file);
    await ingestFile(db, { projectId, filePath: file, originalName: `img${i}.png`, label: i < 6 ? (i % 2 ? "bright" : "dark") : null, actor: "test" });
  }
});
afterEach(() => cleanup());

const context = (jobId: number): JobContext => ({ db, jobId, workerId: "test", progress: () => false, log: () => undefined, signal: new AbortController().signal });

it("keeps the web's op names equal to the trainer's", () => {
  expect([...AUGMENT_OP_NAMES]).toEqual([...STRONG_OP_NAMES]);
});

it("renders the preview under the toggles: flip off means no Flip in weak or strong views", async () => {
  setAugmentToggles(db, projectId, { flip: false, translate: true, cutout: false, disabledOps: STRONG_OP_NAMES.filter((o) => o !== "Solarize") });
  queueAugmentPreview(db, projectId);
  const job = claimJob(db, "test", 60_000)!;
  const result = await handleAugmentPreview(context(job.id), { projectId, seed: 3 });
  finishJob(db, job.id, "test", { status: "succeeded", result });
  const preview = getAugmentPreview(db, projectId);
  expect(preview.toggles.flip).toBe(false);
  expect(preview.images).toHaveLength(6);
  for (const image of preview.images) {
    expect(image.views).toHaveLength(3);
    for (const v of image.views) {
      expect([...v.weakOpNames, ...v.strongOpNames]).not.toContain("Flip");
      expect(v.strongOpNames.filter((o) => o !== "Translate")).toEqual(["Solarize", "Solarize"]);
      expect(v.strong).toMatch(new RegExp(`/api/projects/${projectId}/augment-preview/${job.id}/`));
    }
  }
  expect(fs.readdirSync(previewDir(projectId, job.id))).toHaveLength(6 * 3 * 2);
});

it("the next run trains with the project's toggles", async () => {
  setAugmentToggles(db, projectId, { flip: false, translate: false, cutout: true, disabledOps: ["Rotate"] });
  const run = queueTrainingRun(db, projectId, { mode: "fixmatch", preset: "quick-cpu", steps: 2, overrides: { inputSize: 8, batchSize: 2, mu: 1 } }, 2);
  await handleTrain(context(run.jobId!), { projectId, runId: run.id });
  const train = (getRun(db, run.id).config as { train: TrainConfig }).train;
  expect(train.augment).toMatchObject({ flip: false, translate: 0, cutout: 0.5 });
  expect(train.augment.strongOps).not.toContain("Rotate");
});
