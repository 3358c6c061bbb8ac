import { and, desc, eq, inArray, lt, or, sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { jobs, type JobRow } from "@/lib/db/schema";
import { notFound } from "@/lib/errors";
import { jobPayloads, type JobPayload, type JobType } from "./types";

export type Job = JobRow;

export type EnqueueOptions = { priority?: number; maxAttempts?: number; projectId?: number | null };

export function enqueueJob<T extends JobType>(db: Db, type: T, payload: JobPayload<T>, opts: EnqueueOptions = {}): Job {
  const parsed = jobPayloads[type].parse(payload);
  const projectId =
    opts.projectId !== undefined ? opts.projectId : ((parsed as { projectId?: number }).projectId ?? null);
  return db
    .insert(jobs)
    .values({ type, payload: parsed, projectId, priority: opts.priority ?? 0, maxAttempts: opts.maxAttempts ?? 3 })
    .returning()
    .get();
}

/**
 * Takes the next job for this worker: a queued one, or a running one whose lease expired (its worker
 * died). A job that has used up its attempts is failed instead of run again. Runs as one IMMEDIATE
 * transaction, so two workers never claim the same job.
 */
export function claimJob(db: Db, workerId: string, leaseMs: number, now = Date.now()): Job | null {
  return db.transaction(
    (tx) => {
      for (;;) {
        const next = tx
          .select()
          .from(jobs)
          .where(or(eq(jobs.status, "queued"), and(eq(jobs.status, "running"), lt(jobs.leaseUntil, now))))
          .orderBy(desc(jobs.priority), jobs.id)
          .limit(1)
          .get();
        if (!next) return null;
        if (next.status === "running" && next.attempts >= next.maxAttempts) {
          tx.update(jobs)
            .set({
              status: "failed",
              error: `the worker running this job stopped ${next.attempts} times; giving up`,
              finishedAt: now,
              leaseUntil: null,
            })
            .where(eq(jobs.id, next.id))
            .run();
          continue;
        }
        if (next.cancelRequested) {
          tx.update(jobs).set({ status: "cancelled", finishedAt: now, leaseUntil: null }).where(eq(jobs.id, next.id)).run();
          continue;
        }
        return tx
          .update(jobs)
          .set({
            status: "running",
            workerId,
            attempts: next.attempts + 1,
            leaseUntil: now + leaseMs,
            startedAt: next.startedAt ?? now,
          })
          .where(eq(jobs.id, next.id))
          .returning()
          .get();
      }
    },
    { behavior: "immediate" },
  );
}

export class LeaseLostError extends Error {
  constructor(jobId: number) {
    super(`job ${jobId} is no longer leased to this worker`);
    this.name = "LeaseLostError";
  }
}

/**
 * Extends the lease and records progress. Returns whether a cancel was requested, so long jobs
 * can stop cleanly. Throws LeaseLostError when another worker has taken the job over.
 */
export function heartbeatJob(
  db: Db,
  jobId: number,
  workerId: string,
  leaseMs: number,
  progress?: { fraction?: number; message?: string },
  now = Date.now(),
): { cancelRequested: boolean } {
  const row = db
    .update(jobs)
    .set({
      leaseUntil: now + leaseMs,
      ...(progress?.fraction !== undefined ? { progress: Math.max(0, Math.min(1, progress.fraction)) } : {}),
      ...(progress?.message !== undefined ? { progressMessage: progress.message } : {}),
    })
    .where(and(eq(jobs.id, jobId), eq(jobs.workerId, workerId), eq(jobs.status, "running")))
    .returning({ cancelRequested: jobs.cancelRequested })
    .get();
  if (!row) throw new LeaseLostError(jobId);
  return { cancelRequested: row.cancelRequested };
}

type Outcome =
  | { status: "succeeded"; result?: unknown }
  | { status: "failed"; error: string; retry?: boolean }
  | { status: "cancelled"; result?: unknown };

/** Ends a job this worker holds. A failure with retry goes back to the queue while attempts remain. */
export function finishJob(db: Db, jobId: number, workerId: string, outcome: Outcome, now = Date.now()): Job {
  return db.transaction(
    (tx) => {
      const job = tx.select().from(jobs).where(eq(jobs.id, jobId)).get();
      if (!job || job.workerId !== workerId || job.status !== "running") throw new LeaseLostError(jobId);
      const retry = outcome.status === "failed" && outcome.retry && job.attempts < job.maxAttempts;
      return tx
        .update(jobs)
        .set(
          retry
            ? { status: "queued", workerId: null, leaseUntil: null, error: outcome.error }
            : {
                status: outcome.status,
                leaseUntil: null,
                finishedAt: now,
                progress: outcome.status === "succeeded" ? 1 : job.progress,
                result: "result" in outcome ? (outcome.result ?? null) : job.result,
                error: outcome.status === "failed" ? outcome.error : null,
              },
        )
        .where(eq(jobs.id, jobId))
        .returning()
        .get();
    },
    { behavior: "immediate" },
  );
}

/** Cancels a queued job at once; asks a running one to stop at its next heartbeat. */
export function requestJobCancel(db: Db, jobId: number, now = Date.now()): Job {
  const job = getJob(db, jobId);
  if (job.status === "queued") {
    return db
      .update(jobs)
      .set({ status: "cancelled", cancelRequested: true, finishedAt: now })
      .where(and(eq(jobs.id, jobId), eq(jobs.status, "queued")))
      .returning()
      .get() ?? getJob(db, jobId);
  }
  if (job.status === "running") {
    return db.update(jobs).set({ cancelRequested: true }).where(eq(jobs.id, jobId)).returning().get();
  }
  return job;
}

export function getJob(db: Db, jobId: number): Job {
  const job = db.select().from(jobs).where(eq(jobs.id, jobId)).get();
  if (!job) throw notFound("job", jobId);
  return job;
}

export function listJobs(db: Db, opts: { projectId?: number; active?: boolean; limit?: number } = {}): Job[] {
  const conds = [];
  if (opts.projectId !== undefined) conds.push(eq(jobs.projectId, opts.projectId));
  if (opts.active) conds.push(inArray(jobs.status, ["queued", "running"]));
  return db
    .select()
    .from(jobs)
    .where(conds.length ? and(...conds) : undefined)
    .orderBy(desc(jobs.id))
    .limit(opts.limit ?? 50)
    .all();
}

export function countActiveJobs(db: Db): number {
  return db.select({ n: sql<number>`count(*)` }).from(jobs).where(inArray(jobs.status, ["queued", "running"])).get()!.n;
}

/** Hands a job back to the queue without counting the attempt (the worker is shutting down cleanly). */
export function releaseJob(db: Db, jobId: number, workerId: string): void {
  db.update(jobs)
    .set({ status: "queued", workerId: null, leaseUntil: null, attempts: sql`max(${jobs.attempts} - 1, 0)` })
    .where(and(eq(jobs.id, jobId), eq(jobs.workerId, workerId), eq(jobs.status, "running")))
    .run();
}
