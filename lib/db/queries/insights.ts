import { and, asc, eq, inArray, isNotNull, isNull, sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { images, labelActions, labelEvents, labels, predictions, proposalRejections, suspiciousDismissals, type LabelSource } from "@/lib/db/schema";
import type { ProposalScope } from "./review";

/**
 * Reads and writes behind "label next", "suspicious labels" and the model page (lib/review/next.ts,
 * suspicious.ts, metrics.ts): a run's predictions next to the labels, and what reviewers did with
 * a model version's proposals.
 */

/** Class probabilities (in the run's class order) of every image of the run that has no label now. */
export function listUnlabeledProbs(db: Db, scope: ProposalScope): { imageId: number; probs: number[] }[] {
  return db
    .select({ imageId: predictions.imageId, probs: predictions.probs })
    .from(predictions)
    .leftJoin(labels, eq(labels.imageId, predictions.imageId))
    .where(and(eq(predictions.projectId, scope.projectId), eq(predictions.runId, scope.runId), isNull(labels.imageId)))
    .orderBy(asc(predictions.imageId))
    .all();
}

/** Every labeled image the run has a prediction for: the label (class, source) next to the probabilities. */
export function listLabeledPredictions(db: Db, scope: ProposalScope) {
  return db
    .select({ imageId: labels.imageId, labelClassId: labels.classId, labelSource: labels.source, probs: predictions.probs })
    .from(labels)
    .innerJoin(predictions, and(eq(predictions.imageId, labels.imageId), eq(predictions.runId, scope.runId)))
    .where(eq(labels.projectId, scope.projectId))
    .orderBy(asc(labels.imageId))
    .all();
}

/** Name and size of these images (a page of picks: at most a few hundred ids). */
export function listImageInfo(db: Db, projectId: number, imageIds: readonly number[]) {
  if (imageIds.length === 0) return [];
  return db
    .select({ id: images.id, name: images.originalName, width: images.width, height: images.height })
    .from(images)
    .where(and(eq(images.projectId, projectId), inArray(images.id, [...imageIds])))
    .all();
}

// ---- suspicious-label dismissals ----

export type NewDismissal = { projectId: number; imageId: number; classId: number; modelVersion: string; actor: string };

/** "imageId:classId" of the labels kept against this model version. */
export function listDismissedKeys(db: Db, projectId: number, modelVersion: string): Set<string> {
  return new Set(
    db
      .select({ imageId: suspiciousDismissals.imageId, classId: suspiciousDismissals.classId })
      .from(suspiciousDismissals)
      .where(and(eq(suspiciousDismissals.projectId, projectId), eq(suspiciousDismissals.modelVersion, modelVersion)))
      .all()
      .map((d) => `${d.imageId}:${d.classId}`),
  );
}

/** Remembers kept labels; one kept already stays as it was. Returns how many are new. */
export function insertDismissals(db: Db, rows: readonly NewDismissal[]): number {
  let added = 0;
  db.transaction(() => {
    for (let start = 0; start < rows.length; start += 500) {
      added += db.insert(suspiciousDismissals).values(rows.slice(start, start + 500)).onConflictDoNothing().run().changes;
    }
  });
  return added;
}

/** Forgets kept labels (undo of a keep). */
export function deleteDismissals(db: Db, projectId: number, modelVersion: string, imageIds: readonly number[]): number {
  if (imageIds.length === 0) return 0;
  return db
    .delete(suspiciousDismissals)
    .where(and(eq(suspiciousDismissals.projectId, projectId), eq(suspiciousDismissals.modelVersion, modelVersion), inArray(suspiciousDismissals.imageId, [...imageIds])))
    .run().changes;
}

// ---- what a model version was trained on and how its proposals fared ----

/**
 * Every label change of these images, oldest first, reduced to what replaying sources needs.
 * Through the label_events(image_id, id) index: the images a run started from, not the whole
 * project's history (which grows with every accept and undo). Chunked under SQLite's bound-parameter
 * limit.
 */
export function listLabelSourceHistory(
  db: Db,
  projectId: number,
  imageIds: readonly number[],
): { id: number; imageId: number; source: LabelSource | null; createdAt: number }[] {
  const out = [];
  for (let start = 0; start < imageIds.length; start += 5000) {
    out.push(
      ...db
        .select({ id: labelEvents.id, imageId: labelEvents.imageId, source: labelEvents.source, createdAt: labelEvents.createdAt })
        .from(labelEvents)
        .where(and(inArray(labelEvents.imageId, imageIds.slice(start, start + 5000)), eq(labelEvents.projectId, projectId)))
        .orderBy(asc(labelEvents.id))
        .all(),
    );
  }
  return imageIds.length > 5000 ? out.sort((a, b) => a.id - b.id) : out;
}

/**
 * Images whose label came from accepting this model version's proposal in an accept action not
 * undone since. Counted by action, not by label_events.source: an undo that restores an earlier
 * accepted label writes an event with the same source and version, which is not a new acceptance.
 * The project's accept actions first (few), then their events through label_events(action_id):
 * as a plain join SQLite walked every event of the database instead.
 */
export function countAcceptedProposals(db: Db, projectId: number, modelVersion: string): number {
  const liveAccepts = db
    .select({ id: labelActions.id })
    .from(labelActions)
    .where(and(eq(labelActions.projectId, projectId), eq(labelActions.kind, "accept"), isNull(labelActions.undoneBy)));
  return db
    .select({ n: sql<number>`count(distinct ${labelEvents.imageId})` })
    .from(labelEvents)
    .where(
      and(
        inArray(labelEvents.actionId, liveAccepts),
        eq(labelEvents.projectId, projectId),
        eq(labelEvents.modelVersion, modelVersion),
        eq(labelEvents.source, "accepted_proposal"),
        isNotNull(labelEvents.classId),
      ),
    )
    .get()!.n;
}

/** Proposals of this model version a reviewer rejected (one per image and class). */
export function countRejectedProposals(db: Db, projectId: number, modelVersion: string): number {
  return db
    .select({ n: sql<number>`count(*)` })
    .from(proposalRejections)
    .where(and(eq(proposalRejections.projectId, projectId), eq(proposalRejections.modelVersion, modelVersion)))
    .get()!.n;
}
