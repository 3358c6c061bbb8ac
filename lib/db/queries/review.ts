import { and, asc, desc, eq, exists, gte, inArray, isNull, sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { HUMAN_LABEL_SOURCES, classes, images, labels, predictions, proposalRejections, trainingRuns, type TrainingRunRow } from "@/lib/db/schema";

/**
 * Reads and writes behind review (lib/review): a run's predictions seen as proposals. A proposal is
 * a prediction of the run for an image that has no label now, minus the (image, class, model
 * version) triples a person rejected.
 */

export type ProposalScope = { projectId: number; runId: number };

/** The project's latest succeeded run that has written predictions, or null. */
export function findLatestRunWithPredictions(db: Db, projectId: number): TrainingRunRow | null {
  return (
    db
      .select()
      .from(trainingRuns)
      .where(
        and(
          eq(trainingRuns.projectId, projectId),
          eq(trainingRuns.status, "succeeded"),
          exists(db.select({ one: sql`1` }).from(predictions).where(eq(predictions.runId, trainingRuns.id))),
        ),
      )
      .orderBy(desc(trainingRuns.id))
      .limit(1)
      .get() ?? null
  );
}

export function countRunPredictions(db: Db, runId: number): number {
  return db.select({ n: sql<number>`count(*)` }).from(predictions).where(eq(predictions.runId, runId)).get()!.n;
}

/**
 * The run's model version. Every prediction row of a run carries it (the predict job writes
 * run.modelVersion), so the rejection join can compare with this constant instead of the row's
 * column: then the predictions_run_class_confidence index answers the proposal queries without
 * reading the rows.
 */
function runModelVersion(db: Db, runId: number): string | null {
  return db.select({ v: trainingRuns.modelVersion }).from(trainingRuns).where(eq(trainingRuns.id, runId)).get()?.v ?? null;
}

/**
 * A run's open proposals, as conditions for a query on predictions that left-joins labels and
 * rejections with `on` below. By run id alone, not project: a run belongs to one project and all
 * its rows carry that project's id, and naming the project too makes SQLite pick the
 * (project_id, run_id, confidence) index and read every row of the run.
 */
function openProposals(db: Db, runId: number) {
  const modelVersion = runModelVersion(db, runId);
  return {
    where: and(eq(predictions.runId, runId), isNull(labels.imageId), isNull(proposalRejections.id)),
    rejectionJoin: and(
      eq(proposalRejections.imageId, predictions.imageId),
      eq(proposalRejections.classId, predictions.topClassId),
      modelVersion === null ? sql`0` : eq(proposalRejections.modelVersion, modelVersion),
    ),
  };
}

export type ProposalPageQuery = ProposalScope & { classId: number; minConfidence: number; offset: number; limit: number };

/**
 * One page of a class's open proposals, most confident first (ties by image id), and their total.
 * Both walk the class's range of the (run_id, top_class_id, confidence, image_id) index without
 * reading prediction rows; the page's images alone are read afterwards (probabilities, name, size),
 * so a deep page costs little more than the first.
 */
export function listProposalPage(db: Db, q: ProposalPageQuery) {
  const open = openProposals(db, q.runId);
  const where = and(open.where, eq(predictions.topClassId, q.classId), gte(predictions.confidence, q.minConfidence));
  const total = db
    .select({ n: sql<number>`count(*)` })
    .from(predictions)
    .leftJoin(labels, eq(labels.imageId, predictions.imageId))
    .leftJoin(proposalRejections, open.rejectionJoin)
    .where(where)
    .get()!.n;
  const page = db
    .select({ pageImageId: predictions.imageId })
    .from(predictions)
    .leftJoin(labels, eq(labels.imageId, predictions.imageId))
    .leftJoin(proposalRejections, open.rejectionJoin)
    .where(where)
    .orderBy(desc(predictions.confidence), asc(predictions.imageId))
    .limit(q.limit)
    .offset(q.offset)
    .as("page");
  const rows = db
    .select({
      imageId: predictions.imageId,
      name: images.originalName,
      width: images.width,
      height: images.height,
      classId: predictions.topClassId,
      confidence: predictions.confidence,
      probs: predictions.probs,
    })
    .from(page)
    .innerJoin(predictions, and(eq(predictions.runId, q.runId), eq(predictions.imageId, page.pageImageId)))
    .innerJoin(images, eq(images.id, predictions.imageId))
    .orderBy(desc(predictions.confidence), asc(predictions.imageId))
    .all();
  return { total, rows };
}

/** The run's predictions for these images as proposal rows (name and size to show them), in no particular order. */
export function listProposalRows(db: Db, scope: ProposalScope, imageIds: readonly number[]) {
  const out = [];
  for (let start = 0; start < imageIds.length; start += 5000) {
    out.push(
      ...db
        .select({
          imageId: predictions.imageId,
          name: images.originalName,
          width: images.width,
          height: images.height,
          classId: predictions.topClassId,
          confidence: predictions.confidence,
        })
        .from(predictions)
        .innerJoin(images, eq(images.id, predictions.imageId))
        .where(and(eq(predictions.runId, scope.runId), inArray(predictions.imageId, imageIds.slice(start, start + 5000))))
        .all(),
    );
  }
  return out;
}

/**
 * Class and confidence of every open proposal of a run, most confident first (three numbers a row).
 * Ties keep no particular order: callers count or collect these. With a class, a backward walk of
 * the class's index range gives the order; without one, SQLite reads the whole run from the same
 * index and sorts it (half the time of reading every row in confidence order through the
 * (project_id, run_id, confidence) index, on 50,000 predictions, see bench/review-scale.ts).
 */
export function listOpenProposalConfidences(db: Db, scope: ProposalScope, classId?: number, minConfidence = 0) {
  const open = openProposals(db, scope.runId);
  return db
    .select({ imageId: predictions.imageId, classId: predictions.topClassId, confidence: predictions.confidence, calibrated: predictions.calibratedConfidence })
    .from(predictions)
    .leftJoin(labels, eq(labels.imageId, predictions.imageId))
    .leftJoin(proposalRejections, open.rejectionJoin)
    .where(
      and(
        open.where,
        classId === undefined ? undefined : eq(predictions.topClassId, classId),
        minConfidence > 0 ? gte(predictions.confidence, minConfidence) : undefined,
      ),
    )
    .orderBy(desc(predictions.confidence))
    .all();
}

/**
 * The run's predictions for these images, with the image's current label (null when unlabeled).
 * Chunked so a large "accept all" stays under SQLite's bound-parameter limit.
 */
export function listPredictionsWithLabels(db: Db, scope: ProposalScope, imageIds: readonly number[]) {
  const out = [];
  for (let start = 0; start < imageIds.length; start += 5000) {
    const chunk = imageIds.slice(start, start + 5000);
    out.push(
      ...db
        .select({
          imageId: predictions.imageId,
          topClassId: predictions.topClassId,
          confidence: predictions.confidence,
          modelVersion: predictions.modelVersion,
          labelClassId: labels.classId,
        })
        .from(predictions)
        .leftJoin(labels, eq(labels.imageId, predictions.imageId))
        .where(and(eq(predictions.projectId, scope.projectId), eq(predictions.runId, scope.runId), inArray(predictions.imageId, chunk)))
        .all(),
    );
  }
  return out;
}

/**
 * Image ids the run has a prediction for. By run id alone (a run belongs to one project): then the
 * (run_id, image_id) index answers without reading the rows, 5x faster on 50,000 predictions
 * than the (project_id, run_id, confidence) index SQLite picks when the project is named too.
 */
export function listPredictedImageIds(db: Db, scope: ProposalScope): Set<number> {
  // Plucked ids straight from better-sqlite3: one row object per prediction made this 3x slower
  // at 50,000 predictions (bench/review-scale.ts), and the model page calls it twice.
  const ids = db.$client.prepare("SELECT image_id FROM predictions WHERE run_id = ?").pluck().all(scope.runId) as number[];
  return new Set(ids);
}

/** Images labeled by a person now, with the run's prediction for each (truth next to guess). */
export function listHumanLabelsWithPredictions(db: Db, scope: ProposalScope) {
  return db
    .select({ imageId: labels.imageId, labelClassId: labels.classId, topClassId: predictions.topClassId, confidence: predictions.confidence })
    .from(labels)
    .innerJoin(predictions, and(eq(predictions.imageId, labels.imageId), eq(predictions.runId, scope.runId)))
    .where(and(eq(labels.projectId, scope.projectId), inArray(labels.source, [...HUMAN_LABEL_SOURCES])))
    .all();
}

export function listClassIds(db: Db, projectId: number): number[] {
  return db.select({ id: classes.id }).from(classes).where(eq(classes.projectId, projectId)).orderBy(asc(classes.position)).all().map((c) => c.id);
}

export type NewRejection = { projectId: number; imageId: number; classId: number; modelVersion: string; actor: string };

/** Remembers rejections; one already remembered is left as it was. Returns how many are new. */
export function insertRejections(db: Db, rows: readonly NewRejection[]): number {
  let added = 0;
  db.transaction(() => {
    for (let start = 0; start < rows.length; start += 500) {
      const batch = rows.slice(start, start + 500);
      added += db.insert(proposalRejections).values([...batch]).onConflictDoNothing().run().changes;
    }
  });
  return added;
}

export function listRejections(db: Db, projectId: number) {
  return db.select().from(proposalRejections).where(eq(proposalRejections.projectId, projectId)).orderBy(asc(proposalRejections.id)).all();
}
