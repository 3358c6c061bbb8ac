import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { Db } from "@/lib/db/client";
import { createProject, getProjectWithClasses } from "@/lib/db/queries/projects";
import { createClass } from "@/lib/db/queries/classes";
import { setHumanLabels } from "@/lib/db/queries/labels";
import { addProgress, getRun, updateRun, type RunRequest } from "@/lib/db/queries/training";
import { jobs } from "@/lib/db/schema";
import { AppError } from "@/lib/errors";
import { claimJob, getJob, heartbeatJob } from "@/lib/jobs";
import { addImageRows, makePetsProject, makeTestDb } from "@/lib/testing/db";
import { findTrainingBlocker, getRunDetail, listProjectRuns, startTrainingRun, stopTrainingRun } from "./runs";

let db: Db;
let cleanup: () => void;
let projectId: number;
let cat: number, dog: number;
let ids: number[];

function appError(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error("expected an AppError");
}

beforeEach(() => {
  ({ db, cleanup } = makeTestDb());
  ({ projectId, classIds: [cat, dog], imageIds: ids } = makePetsProject(db, { images: 6 }));
});
afterEach(() => cleanup());

const labelTwoClasses = () => {
  setHumanLabels(db, projectId, { imageIds: [ids[0]], classId: cat }, "ann");
  setHumanLabels(db, projectId, { imageIds: [ids[1]], classId: dog }, "ann");
};

describe("starting a training run", () => {
  it("refuses a project without a labeled image in every class, saying which class lacks one", () => {
    const none = appError(() => startTrainingRun(db, projectId, { mode: "fixmatch", preset: "quick-cpu" }));
    expect(none.status).toBe(400);
    expect(none.message).toMatch(/at least 2 classes; 0 of 2/);

    setHumanLabels(db, projectId, { imageIds: [ids[0], ids[1]], classId: cat }, "ann");
    const oneClass = appError(() => startTrainingRun(db, projectId, { mode: "fixmatch", preset: "quick-cpu" }));
    expect(oneClass.status).toBe(400);
    expect(oneClass.message).toMatch(/1 of 2/);

    const single = createProject(db, { name: "one class", classes: [{ name: "only" }] });
    expect(appError(() => startTrainingRun(db, single.id, { mode: "fixmatch", preset: "quick-cpu" })).message).toMatch(/at least 2 classes; this project has 1/);

    labelTwoClasses();
    expect(findTrainingBlocker(db, projectId)).toBeNull();
  });

  it("names the classes without labels (the worker would train an output it never saw)", () => {
    createClass(db, projectId, { name: "bird" });
    labelTwoClasses();
    expect(findTrainingBlocker(db, projectId)?.message).toBe('every class needs at least one labeled image; "bird" has none');
  });

  it("queues the run and its train job, with overrides stored where the worker reads them", () => {
    labelTwoClasses();
    const { run, job } = startTrainingRun(db, projectId, {
      mode: "supervised",
      preset: "quick-cpu",
      overrides: { steps: 20, batchSize: 8, mu: 2, threshold: 0.9, inputSize: 24, model: "resnet-32x2", seed: 7, timeBudgetS: 600, flexThresholds: true, pseudoLabelFirst: false, emaDecay: 0.95 },
    });
    expect(run).toMatchObject({ status: "queued", mode: "supervised", preset: "quick-cpu", totalSteps: 20, timeBudgetS: 600, fraction: 0, modelVersion: `p${projectId}-r${run.id}`, jobsAhead: 0 });
    expect(job).toMatchObject({ type: "train", status: "queued", payload: { projectId, runId: run.id } });
    const stored = (getRun(db, run.id).config as { request: RunRequest }).request;
    expect(stored).toEqual({
      mode: "supervised",
      preset: "quick-cpu",
      steps: 20,
      seed: 7,
      overrides: { batchSize: 8, mu: 2, threshold: 0.9, inputSize: 24, timeBudgetS: 600, flexThresholds: true, pseudoLabelFirst: false, emaDecay: 0.95, model: { kind: "resnet", width: 32, blocks: 2 } },
    });
  });

  it("takes the preset's step count when none is given", () => {
    labelTwoClasses();
    const { run } = startTrainingRun(db, projectId, { mode: "fixmatch", preset: "quick-cpu" });
    expect(run.totalSteps).toBe(500);
    expect((getRun(db, run.id).config as { request: RunRequest }).request).toEqual({ mode: "fixmatch", preset: "quick-cpu" });
  });

  it("rejects out-of-range or unknown settings with the field", () => {
    labelTwoClasses();
    const bad = [
      { preset: "nope" },
      { preset: "quick-cpu", mode: "dino" },
      { preset: "quick-cpu", overrides: { steps: 0 } },
      { preset: "quick-cpu", overrides: { threshold: 1.5 } },
      { preset: "quick-cpu", overrides: { batchSize: 2.5 } },
      { preset: "quick-cpu", overrides: { model: "vit" } },
      { preset: "quick-cpu", overrides: { batch: 8 } },
      { preset: "quick-cpu", overrides: { timeBudgetS: 5 } },
      { preset: "quick-cpu", overrides: { timeBudgetS: 60.5 } },
      { preset: "quick-cpu", overrides: { emaDecay: 1 } },
    ];
    for (const input of bad) expect(() => startTrainingRun(db, projectId, input as never), JSON.stringify(input)).toThrow(z.ZodError);
  });

  it("allows one active run per project: a second start is a 409 naming the active run; other projects are not blocked", () => {
    labelTwoClasses();
    const first = startTrainingRun(db, projectId, { mode: "fixmatch", preset: "quick-cpu" }).run;
    const err = appError(() => startTrainingRun(db, projectId, { mode: "fixmatch", preset: "quick-cpu" }));
    expect(err.status).toBe(409);
    expect(err.message).toMatch(new RegExp(`run ${first.id} .* is queued: a project trains one run at a time`));
    expect(err.details).toEqual({ runId: first.id });
    expect(listProjectRuns(db, projectId).blocker).toMatch(/one run at a time/);

    const other = createProject(db, { name: "other", classes: [{ name: "a" }, { name: "b" }] });
    const [a, b] = getProjectWithClasses(db, other.id).classes.map((c) => c.id);
    const [x, y] = addImageRows(db, other.id, 2, "other");
    setHumanLabels(db, other.id, { imageIds: [x], classId: a }, "ann");
    setHumanLabels(db, other.id, { imageIds: [y], classId: b }, "ann");
    const second = startTrainingRun(db, other.id, { mode: "fixmatch", preset: "quick-cpu" }).run;
    expect(second.jobsAhead).toBe(1);

    // Once the first run ends, the project may train again.
    updateRun(db, first.id, { status: "succeeded", finishedAt: Date.now() });
    expect(startTrainingRun(db, projectId, { mode: "fixmatch", preset: "quick-cpu" }).run.status).toBe("queued");
  });

  it("does not let a run whose job died block the project: it shows as failed", () => {
    labelTwoClasses();
    const { run } = startTrainingRun(db, projectId, { mode: "fixmatch", preset: "quick-cpu" });
    updateRun(db, run.id, { status: "running", startedAt: Date.now() });
    db.update(jobs).set({ status: "failed", error: "the worker running this job stopped 3 times; giving up" }).where(eq(jobs.id, run.jobId!)).run();
    expect(listProjectRuns(db, projectId)).toMatchObject({ runs: [{ id: run.id, status: "failed", error: /stopped 3 times/ }], blocker: null });
  });
});

describe("stopping a run", () => {
  it("marks a queued run stopped at once (its job never reaches the worker)", () => {
    labelTwoClasses();
    const { run } = startTrainingRun(db, projectId, { mode: "fixmatch", preset: "quick-cpu" });
    const stopped = stopTrainingRun(db, run.id);
    expect(stopped.run.status).toBe("stopped");
    expect(stopped.job.status).toBe("cancelled");
    expect(appError(() => stopTrainingRun(db, run.id)).status).toBe(409);
  });

  it("asks a running run's job to stop and leaves the status to the worker", () => {
    labelTwoClasses();
    const { run } = startTrainingRun(db, projectId, { mode: "fixmatch", preset: "quick-cpu" });
    claimJob(db, "w1", 60_000);
    updateRun(db, run.id, { status: "running", startedAt: Date.now() });
    const stopped = stopTrainingRun(db, run.id);
    expect(stopped.run.status).toBe("running");
    expect(getJob(db, run.jobId!).cancelRequested).toBe(true);
  });
});

describe("a run's progress", () => {
  it("follows the worker's time-aware fraction when a budget runs ahead of the steps, and is whole once the run succeeds", () => {
    labelTwoClasses();
    const { run } = startTrainingRun(db, projectId, { mode: "fixmatch", preset: "quick-cpu", overrides: { steps: 1000, timeBudgetS: 60 } });
    expect(run).toMatchObject({ timeBudgetS: 60, fraction: 0 });
    claimJob(db, "w1", 60_000);
    updateRun(db, run.id, { status: "running", step: 100 });
    // Steps say 10%; the worker reports 40% of the budget spent.
    expect(listProjectRuns(db, projectId).runs[0].fraction).toBeCloseTo(0.1);
    heartbeatJob(db, run.jobId!, "w1", 60_000, { fraction: 0.4 });
    expect(listProjectRuns(db, projectId).runs[0].fraction).toBeCloseTo(0.4);
    // The budget ends the run at step 250 of 1000.
    updateRun(db, run.id, { status: "succeeded", step: 250, finishedAt: Date.now() });
    expect(listProjectRuns(db, projectId).runs[0]).toMatchObject({ step: 250, totalSteps: 1000, fraction: 1 });
  });
});

describe("run detail", () => {
  it("returns progress rows after a step", () => {
    labelTwoClasses();
    const { run } = startTrainingRun(db, projectId, { mode: "fixmatch", preset: "quick-cpu" });
    for (const step of [10, 20, 30]) {
      addProgress(db, { runId: run.id, step, lr: 0.03, lossSup: 1, lossUnsup: 0.5, maskRate: 0.1, pseudoAcc: null, heldoutAcc: null, imagesPerS: 10, etaS: 5 });
    }
    expect(getRunDetail(db, run.id).progress.map((p) => p.step)).toEqual([10, 20, 30]);
    expect(getRunDetail(db, run.id, 10).progress.map((p) => p.step)).toEqual([20, 30]);
    expect(getRunDetail(db, run.id, 10).run.step).toBe(30);
  });
});
