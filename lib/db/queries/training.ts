import { and, asc, desc, eq, gt, sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { images, labels, predictions, trainingProgress, trainingRuns, type TrainingRunRow } from "@/lib/db/schema";
import { notFound } from "@/lib/errors";
// Type only: the web server may import this file without loading tfjs.
import type { TrainConfig } from "@/lib/ml/config";
import type { BackboneRef } from "@/lib/ml/backbones/types";

/** Training runs, their progress rows and their predictions. */

export type NewRun = Pick<typeof trainingRuns.$inferInsert, "projectId" | "mode" | "config" | "totalSteps">;

/** Inserts a run; its model version ("p<project>-r<run>") is known once the id is. */
export function createRun(db: Db, values: NewRun): TrainingRunRow {
  return db.transaction(() => {
    const row = db.insert(trainingRuns).values({ ...values, modelVersion: "" }).returning().get();
    return db
      .update(trainingRuns)
      .set({ modelVersion: `p${row.projectId}-r${row.id}` })
      .where(eq(trainingRuns.id, row.id))
      .returning()
      .get();
  });
}

/** Settings a run may change from its preset (the "advanced settings"). */
export type RunOverrides = Partial<
  Pick<TrainConfig, "model" | "inputSize" | "batchSize" | "mu" | "threshold" | "lambdaU" | "distributionAlignment" | "emaDecay" | "timeBudgetS" | "flexThresholds" | "pseudoLabelFirst" | "backbone" | "backboneMode">
>;

/** What a run starts from, who chose it (the request, or the default when it named no backbone) and why. */
export type RunStartFrom = { backbone: BackboneRef | null; by: "request" | "default"; reason: string };

/** What starting a run asks for; the worker resolves it (preset, then overrides, steps, seed) into a full TrainConfig. */
export type RunRequest = { mode: "fixmatch" | "supervised"; preset: string; steps?: number; seed?: number; overrides?: RunOverrides; startFrom?: RunStartFrom };

export function getRun(db: Db, runId: number): TrainingRunRow {
  const row = db.select().from(trainingRuns).where(eq(trainingRuns.id, runId)).get();
  if (!row) throw notFound("training run", runId);
  return row;
}

export function listRuns(db: Db, projectId: number, limit = 50): TrainingRunRow[] {
  return db.select().from(trainingRuns).where(eq(trainingRuns.projectId, projectId)).orderBy(desc(trainingRuns.id)).limit(limit).all();
}

export type RunUpdate = Partial<Omit<typeof trainingRuns.$inferInsert, "id" | "projectId" | "createdAt" | "modelVersion">>;

export function updateRun(db: Db, runId: number, values: RunUpdate): TrainingRunRow {
  const row = db.update(trainingRuns).set(values).where(eq(trainingRuns.id, runId)).returning().get();
  if (!row) throw notFound("training run", runId);
  return row;
}

export type NewProgress = Omit<typeof trainingProgress.$inferInsert, "id" | "createdAt">;

/** Records one progress report and moves the run's step along with it. */
export function addProgress(db: Db, values: NewProgress): void {
  db.transaction((tx) => {
    tx.insert(trainingProgress).values(values).run();
    tx.update(trainingRuns).set({ step: values.step }).where(eq(trainingRuns.id, values.runId)).run();
  });
}

/**
 * Drops a run's progress rows past `step`: a run resumed from its checkpoint at `step` reports the
 * steps after it again, and the charts must not show them twice. Returns how many were dropped.
 */
export function dropProgressAfter(db: Db, runId: number, step: number): number {
  return db.delete(trainingProgress).where(and(eq(trainingProgress.runId, runId), gt(trainingProgress.step, step))).run().changes;
}

export function listProgress(db: Db, runId: number) {
  return db.select().from(trainingProgress).where(eq(trainingProgress.runId, runId)).orderBy(asc(trainingProgress.step), asc(trainingProgress.id)).all();
}

export type NewPrediction = Omit<typeof predictions.$inferInsert, "id" | "createdAt">;

/** Writes predictions in transactions of `batchSize` rows; a re-run replaces the run's earlier row for an image. */
export function writePredictions(db: Db, rows: readonly NewPrediction[], batchSize = 500): void {
  for (let start = 0; start < rows.length; start += batchSize) {
    const batch = rows.slice(start, start + batchSize);
    db.transaction((tx) => {
      tx.insert(predictions)
        .values(batch)
        .onConflictDoUpdate({
          target: [predictions.runId, predictions.imageId],
          set: {
            probs: sqlExcluded("probs"),
            topClassId: sqlExcluded("top_class_id"),
            confidence: sqlExcluded("confidence"),
            calibratedConfidence: sqlExcluded("calibrated_confidence"),
            modelVersion: sqlExcluded("model_version"),
          },
        })
        .run();
    });
  }
}

function sqlExcluded(column: string) {
  return sql.raw(`excluded.${column}`);
}

export function listPredictions(db: Db, projectId: number, runId: number) {
  return db
    .select()
    .from(predictions)
    .where(and(eq(predictions.projectId, projectId), eq(predictions.runId, runId)))
    .orderBy(desc(predictions.confidence))
    .all();
}

/** Every image of a project with its current label's class id (null when unlabeled), by id. */
export function listImagesWithLabels(db: Db, projectId: number) {
  return db
    .select({ id: images.id, sha256: images.sha256, channels: images.channels, classId: labels.classId, source: labels.source })
    .from(images)
    .leftJoin(labels, eq(labels.imageId, images.id))
    .where(eq(images.projectId, projectId))
    .orderBy(asc(images.id))
    .all();
}
