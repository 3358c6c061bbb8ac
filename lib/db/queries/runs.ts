import { and, asc, desc, eq, gt, inArray, lt, or, sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { classes, jobs, labels, trainingProgress, trainingRuns, type JobStatus, type TrainingRunRow } from "@/lib/db/schema";
import { notFound } from "@/lib/errors";

/**
 * Reads the training-runs API needs beyond lib/db/queries/training.ts (which the worker owns):
 * runs together with the state of their job, the project's active run, progress after a step,
 * labels per class, and how many jobs the worker will take before a given one.
 */

const ACTIVE_JOB: JobStatus[] = ["queued", "running"];

/** A run with its job's status: a run whose job ended without finishing it (a dead worker's last attempt) is not active. */
export type RunWithJob = TrainingRunRow & { jobStatus: JobStatus | null; jobError: string | null; jobProgress: number | null; jobMessage: string | null };

const runWithJobColumns = { run: trainingRuns, jobStatus: jobs.status, jobError: jobs.error, jobProgress: jobs.progress, jobMessage: jobs.progressMessage };

function flatten(row: { run: TrainingRunRow; jobStatus: JobStatus | null; jobError: string | null; jobProgress: number | null; jobMessage: string | null }): RunWithJob {
  return { ...row.run, jobStatus: row.jobStatus, jobError: row.jobError, jobProgress: row.jobProgress, jobMessage: row.jobMessage };
}

export function listRunsWithJobs(db: Db, projectId: number, limit = 50): RunWithJob[] {
  return db
    .select(runWithJobColumns)
    .from(trainingRuns)
    .leftJoin(jobs, eq(jobs.id, trainingRuns.jobId))
    .where(eq(trainingRuns.projectId, projectId))
    .orderBy(desc(trainingRuns.id))
    .limit(limit)
    .all()
    .map(flatten);
}

export function getRunWithJob(db: Db, runId: number): RunWithJob {
  const row = db.select(runWithJobColumns).from(trainingRuns).leftJoin(jobs, eq(jobs.id, trainingRuns.jobId)).where(eq(trainingRuns.id, runId)).get();
  if (!row) throw notFound("training run", runId);
  return flatten(row);
}

/** The project's queued or running run whose job is still queued or running; there is at most one. */
export function findActiveRun(db: Db, projectId: number): TrainingRunRow | null {
  const row = db
    .select({ run: trainingRuns })
    .from(trainingRuns)
    .innerJoin(jobs, eq(jobs.id, trainingRuns.jobId))
    .where(and(eq(trainingRuns.projectId, projectId), inArray(trainingRuns.status, ["queued", "running"]), inArray(jobs.status, ACTIVE_JOB)))
    .orderBy(desc(trainingRuns.id))
    .limit(1)
    .get();
  return row?.run ?? null;
}

/** Progress rows after `sinceStep` (all of them when it is null), oldest first: charts fetch only what is new. */
export function listProgressSince(db: Db, runId: number, sinceStep: number | null) {
  return db
    .select()
    .from(trainingProgress)
    .where(and(eq(trainingProgress.runId, runId), sinceStep === null ? undefined : gt(trainingProgress.step, sinceStep)))
    .orderBy(asc(trainingProgress.step), asc(trainingProgress.id))
    .all();
}

/** Every class of the project in its order, with how many images carry its label (0 included). */
export function countLabelsPerClass(db: Db, projectId: number): { classId: number; name: string; labeled: number }[] {
  return db
    .select({ classId: classes.id, name: classes.name, labeled: sql<number>`count(${labels.imageId})` })
    .from(classes)
    .leftJoin(labels, eq(labels.classId, classes.id))
    .where(eq(classes.projectId, projectId))
    .groupBy(classes.id)
    .orderBy(asc(classes.position))
    .all();
}

/**
 * Jobs the worker runs before this queued one: every running job, and queued jobs ahead of it in
 * the claim order (higher priority first, then older first; see claimJob).
 */
export function countJobsAhead(db: Db, jobId: number): number {
  const job = db.select({ priority: jobs.priority }).from(jobs).where(eq(jobs.id, jobId)).get();
  if (!job) return 0;
  return db
    .select({ n: sql<number>`count(*)` })
    .from(jobs)
    .where(
      or(
        eq(jobs.status, "running"),
        and(eq(jobs.status, "queued"), or(gt(jobs.priority, job.priority), and(eq(jobs.priority, job.priority), lt(jobs.id, jobId)))),
      ),
    )
    .get()!.n;
}
