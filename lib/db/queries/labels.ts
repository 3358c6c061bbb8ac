import { and, desc, eq, inArray, isNull, lt, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/lib/db/client";
import { classes, images, labelActions, labelEvents, labels, type LabelSource } from "@/lib/db/schema";
import { badRequest } from "@/lib/errors";

type ActionKind = (typeof labelActions.$inferInsert)["kind"];

export const setLabelsInput = z.object({
  imageIds: z.array(z.number().int().positive()).min(1, "choose at least one image").max(50_000),
  /** null removes the label. */
  classId: z.number().int().positive().nullable(),
});

export type LabelChange = {
  projectId: number;
  imageIds: number[];
  classId: number | null;
  source: LabelSource;
  actor: string;
  kind: ActionKind;
  modelVersion?: string | null;
  confidence?: number | null;
  /** Per-image confidences (accepted proposals each carry their own); wins over `confidence`. */
  confidenceByImage?: ReadonlyMap<number, number>;
  /** Join an action opened with createLabelAction, so several changes are undone as one. */
  actionId?: number;
};

/** Opens a label action (the unit of undo) for changes recorded with recordLabelChanges. */
export function createLabelAction(db: Db, projectId: number, kind: ActionKind, actor: string): number {
  return db.insert(labelActions).values({ projectId, kind, actor }).returning({ id: labelActions.id }).get().id;
}

/**
 * The one writer of labels: for each image whose label actually changes, appends a label_event
 * (before and after) and updates the current label, all under one label_action (the unit of undo).
 * Call it inside a transaction or let it open one.
 */
export function recordLabelChanges(db: Db, change: LabelChange): { actionId: number | null; changed: number } {
  return db.transaction(() => {
    const current = new Map(
      db
        .select()
        .from(labels)
        .where(inArray(labels.imageId, change.imageIds))
        .all()
        .map((l) => [l.imageId, l]),
    );
    const toChange = change.imageIds.filter((id) => {
      const cur = current.get(id);
      return change.classId === null ? cur !== undefined : cur?.classId !== change.classId || cur.source !== change.source;
    });
    if (toChange.length === 0) return { actionId: null, changed: 0 };
    const action = { id: change.actionId ?? createLabelAction(db, change.projectId, change.kind, change.actor) };
    for (const imageId of toChange) {
      const prev = current.get(imageId);
      const confidence = change.confidenceByImage?.get(imageId) ?? change.confidence ?? null;
      db.insert(labelEvents)
        .values({
          projectId: change.projectId,
          imageId,
          actionId: action.id,
          prevClassId: prev?.classId ?? null,
          prevSource: prev?.source ?? null,
          classId: change.classId,
          source: change.classId === null ? null : change.source,
          actor: change.actor,
          modelVersion: change.modelVersion ?? null,
          confidence,
        })
        .run();
      if (change.classId === null) {
        db.delete(labels).where(eq(labels.imageId, imageId)).run();
      } else {
        const row = {
          projectId: change.projectId,
          classId: change.classId,
          source: change.source,
          actor: change.actor,
          actionId: action.id,
          modelVersion: change.modelVersion ?? null,
          confidence,
          setAt: Date.now(),
        };
        db.insert(labels)
          .values({ imageId, ...row })
          .onConflictDoUpdate({ target: labels.imageId, set: row })
          .run();
      }
    }
    return { actionId: action.id, changed: toChange.length };
  });
}

/** A person labels (or unlabels) images of a project from the grid. */
export function setHumanLabels(db: Db, projectId: number, input: z.input<typeof setLabelsInput>, actor: string) {
  const { imageIds, classId } = setLabelsInput.parse(input);
  const unique = [...new Set(imageIds)];
  if (classId !== null) {
    const cls = db.select().from(classes).where(and(eq(classes.id, classId), eq(classes.projectId, projectId))).get();
    if (!cls) throw badRequest(`class ${classId} is not a class of this project`, { field: "classId" });
  }
  const found = db
    .select({ id: images.id })
    .from(images)
    .where(and(eq(images.projectId, projectId), inArray(images.id, unique)))
    .all();
  if (found.length !== unique.length) {
    const known = new Set(found.map((r) => r.id));
    const missing = unique.filter((id) => !known.has(id));
    throw badRequest(`image ${missing[0]} is not in this project`, { field: "imageIds", missing: missing.slice(0, 20) });
  }
  return recordLabelChanges(db, {
    projectId,
    imageIds: unique,
    classId,
    source: "human",
    actor,
    kind: classId === null ? "clear" : "set",
  });
}

/**
 * Reverts the project's latest labeling action by a person (set, clear, or accepting proposals in
 * review) that is not undone yet. Each image goes back to its label before that action, unless
 * someone changed it since (then it is left alone and counted as skipped). The revert is itself an
 * action, so history shows it.
 */
export function undoLastLabelAction(db: Db, projectId: number, actor: string) {
  return db.transaction(() => {
    const target = db
      .select()
      .from(labelActions)
      .where(and(eq(labelActions.projectId, projectId), isNull(labelActions.undoneBy), inArray(labelActions.kind, ["set", "clear", "accept"])))
      .orderBy(desc(labelActions.id))
      .limit(1)
      .get();
    if (!target) return { undoneActionId: null, restored: 0, skipped: 0 };
    const events = db.select().from(labelEvents).where(eq(labelEvents.actionId, target.id)).all();
    const undo = db.insert(labelActions).values({ projectId, kind: "undo", actor }).returning().get();
    const liveClassIds = new Set(
      db.select({ id: classes.id }).from(classes).where(eq(classes.projectId, projectId)).all().map((c) => c.id),
    );
    let restored = 0;
    let skipped = 0;
    for (const ev of events) {
      const cur = db.select().from(labels).where(eq(labels.imageId, ev.imageId)).get();
      const unchangedSince = cur ? cur.classId === ev.classId && cur.source === ev.source : ev.classId === null;
      const prevStillExists = ev.prevClassId === null || liveClassIds.has(ev.prevClassId);
      if (!unchangedSince || !prevStillExists) {
        skipped++;
        continue;
      }
      // Restore the provenance the label had before (model version, confidence) from its last event.
      const before = db
        .select()
        .from(labelEvents)
        .where(and(eq(labelEvents.imageId, ev.imageId), lt(labelEvents.id, ev.id)))
        .orderBy(desc(labelEvents.id))
        .limit(1)
        .get();
      db.insert(labelEvents)
        .values({
          projectId,
          imageId: ev.imageId,
          actionId: undo.id,
          prevClassId: ev.classId,
          prevSource: ev.source,
          classId: ev.prevClassId,
          source: ev.prevSource,
          actor,
          modelVersion: before?.modelVersion ?? null,
          confidence: before?.confidence ?? null,
        })
        .run();
      if (ev.prevClassId === null) {
        db.delete(labels).where(eq(labels.imageId, ev.imageId)).run();
      } else {
        const row = {
          projectId,
          classId: ev.prevClassId,
          source: ev.prevSource ?? "human",
          actor: before?.actor ?? actor,
          actionId: before?.actionId ?? undo.id,
          modelVersion: before?.modelVersion ?? null,
          confidence: before?.confidence ?? null,
          setAt: before?.createdAt ?? Date.now(),
        };
        db.insert(labels).values({ imageId: ev.imageId, ...row }).onConflictDoUpdate({ target: labels.imageId, set: row }).run();
      }
      restored++;
    }
    db.update(labelActions).set({ undoneBy: undo.id }).where(eq(labelActions.id, target.id)).run();
    return { undoneActionId: target.id, restored, skipped };
  });
}

export function getLabelHistory(db: Db, imageId: number) {
  return db
    .select({
      classId: labelEvents.classId,
      source: labelEvents.source,
      prevClassId: labelEvents.prevClassId,
      actor: labelEvents.actor,
      modelVersion: labelEvents.modelVersion,
      confidence: labelEvents.confidence,
      createdAt: labelEvents.createdAt,
      actionId: labelEvents.actionId,
    })
    .from(labelEvents)
    .where(eq(labelEvents.imageId, imageId))
    .orderBy(labelEvents.id)
    .all();
}

export function getLabelCounts(db: Db, projectId: number) {
  const total = db.select({ n: sql<number>`count(*)` }).from(images).where(eq(images.projectId, projectId)).get()!.n;
  const rows = db
    .select({ classId: labels.classId, source: labels.source, n: sql<number>`count(*)` })
    .from(labels)
    .where(eq(labels.projectId, projectId))
    .groupBy(labels.classId, labels.source)
    .all();
  const byClass: Record<number, number> = {};
  const bySource: Record<LabelSource, number> = { human: 0, imported: 0, accepted_proposal: 0 };
  let labeled = 0;
  for (const r of rows) {
    byClass[r.classId] = (byClass[r.classId] ?? 0) + r.n;
    bySource[r.source] += r.n;
    labeled += r.n;
  }
  return { total, labeled, unlabeled: total - labeled, byClass, bySource };
}
