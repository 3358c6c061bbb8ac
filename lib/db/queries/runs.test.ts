import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { jobs } from "@/lib/db/schema";
import { claimJob, enqueueJob } from "@/lib/jobs";
import { makePetsProject, makeTestDb } from "@/lib/testing/db";
import { getProjectWithClasses } from "./projects";
import { countJobsAhead, countLabelsPerClass, findActiveRun, getRunWithJob, listRunsWithJobs } from "./runs";
import { createRun, updateRun, type RunRequest } from "./training";

let db: Db;
let cleanup: () => void;
let projectId: number;

beforeEach(() => {
  ({ db, cleanup } = makeTestDb());
  ({ projectId } = makePetsProject(db));
});
afterEach(() => cleanup());

/** A run with its "train" job, as lib/training/runs.ts queues one. */
function queueRun(request: RunRequest, totalSteps: number) {
  const run = createRun(db, { projectId, mode: request.mode, config: { request }, totalSteps });
  return updateRun(db, run.id, { jobId: enqueueJob(db, "train", { projectId, runId: run.id }).id });
}

describe("run queries", () => {
  it("finds the active run only while both the run and its job are active", () => {
    expect(findActiveRun(db, projectId)).toBeNull();
    const run = queueRun({ mode: "fixmatch", preset: "quick-cpu" }, 500);
    expect(findActiveRun(db, projectId)?.id).toBe(run.id);
    expect(getRunWithJob(db, run.id)).toMatchObject({ jobStatus: "queued", jobError: null });

    db.update(jobs).set({ status: "failed", error: "gave up" }).where(eq(jobs.id, run.jobId!)).run();
    expect(findActiveRun(db, projectId)).toBeNull();
    expect(listRunsWithJobs(db, projectId)).toMatchObject([{ id: run.id, status: "queued", jobStatus: "failed", jobError: "gave up" }]);

    const next = queueRun({ mode: "fixmatch", preset: "quick-cpu" }, 500);
    updateRun(db, next.id, { status: "succeeded" });
    expect(findActiveRun(db, projectId)).toBeNull();
  });

  it("counts labels per class, classes without labels included", () => {
    const [cat] = getProjectWithClasses(db, projectId).classes;
    expect(countLabelsPerClass(db, projectId)).toEqual([
      { classId: cat.id, name: "cat", labeled: 0 },
      { classId: cat.id + 1, name: "dog", labeled: 0 },
    ]);
  });

  it("counts the jobs the worker takes before a queued one", () => {
    const a = enqueueJob(db, "thumbnails.rebuild", { projectId });
    const b = enqueueJob(db, "thumbnails.rebuild", { projectId });
    const urgent = enqueueJob(db, "thumbnails.rebuild", { projectId }, { priority: 5 });
    expect(countJobsAhead(db, a.id)).toBe(1); // the urgent one
    expect(countJobsAhead(db, b.id)).toBe(2);
    expect(countJobsAhead(db, urgent.id)).toBe(0);
    claimJob(db, "w", 60_000); // takes "urgent": running jobs are still ahead
    expect(countJobsAhead(db, a.id)).toBe(1);
  });
});
