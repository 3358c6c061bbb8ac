import { and, desc, eq, gte, lt } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { trainingSamples, type TrainingSampleRow } from "@/lib/db/schema";

/** "How it learns" sample rows of training runs (lib/ml/samples.ts records them; the views are PNG files). */

export type NewSample = Omit<typeof trainingSamples.$inferInsert, "id" | "createdAt" | "runId" | "step">;

/** Sample events kept per run: the strip shows the latest, older ones are history for a while. */
export const SAMPLE_EVENTS_KEPT = 10;

/**
 * Records one sample event of a run at `step`. A resumed run repeats steps after its checkpoint,
 * so rows at or after `step` (an earlier try) are replaced. Keeps the last `keep` events and
 * returns their steps, newest first (the caller deletes the other events' files).
 */
export function recordSampleEvent(db: Db, runId: number, step: number, rows: readonly NewSample[], keep = SAMPLE_EVENTS_KEPT): number[] {
  return db.transaction((tx) => {
    tx.delete(trainingSamples).where(and(eq(trainingSamples.runId, runId), gte(trainingSamples.step, step))).run();
    if (rows.length > 0) tx.insert(trainingSamples).values(rows.map((r) => ({ ...r, runId, step }))).run();
    const steps = tx
      .selectDistinct({ step: trainingSamples.step })
      .from(trainingSamples)
      .where(eq(trainingSamples.runId, runId))
      .orderBy(desc(trainingSamples.step))
      .all()
      .map((r) => r.step);
    if (steps.length > keep) tx.delete(trainingSamples).where(and(eq(trainingSamples.runId, runId), lt(trainingSamples.step, steps[keep - 1]))).run();
    return steps.slice(0, keep);
  });
}

/** Steps of a run's recorded sample events, newest first. */
export function listSampleSteps(db: Db, runId: number): number[] {
  return db
    .selectDistinct({ step: trainingSamples.step })
    .from(trainingSamples)
    .where(eq(trainingSamples.runId, runId))
    .orderBy(desc(trainingSamples.step))
    .all()
    .map((r) => r.step);
}

/** The rows of one sample event, in strip order. */
export function listSamples(db: Db, runId: number, step: number): TrainingSampleRow[] {
  return db
    .select()
    .from(trainingSamples)
    .where(and(eq(trainingSamples.runId, runId), eq(trainingSamples.step, step)))
    .orderBy(trainingSamples.position)
    .all();
}
