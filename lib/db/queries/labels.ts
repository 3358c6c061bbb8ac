import { and, desc, eq, inArray, isNull, sql, type Placeholder } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import { z } from "zod";
import type { Db } from "@/lib/db/client";
import { classes, images, labelActions, labelEvents, labels, type LabelEventRow, type LabelRow, type LabelSource, type LabelVia } from "@/lib/db/schema";
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
  /** Audit answer, bulk accept through the precision gate, or through its override (schema LABEL_VIAS). */
  via?: LabelVia | null;
};

/**
 * Label writes touch thousands of images at once (accepting a class's proposals, undoing that), so
 * each statement is built and prepared once per call and run per image: building and preparing
 * one per image cost 0.5 ms an image (2 s for accepting 4,000 proposals, bench/review-scale.ts).
 * Lookups by id go in chunks: SQLite binds at most 32,766 values in one statement.
 */
const ID_CHUNK = 5000;

function chunked<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += size) out.push(items.slice(start, start + size));
  return out;
}

/** The current label of each of these images that has one. */
function currentLabels(db: Db, imageIds: readonly number[]): Map<number, LabelRow> {
  const out = new Map<number, LabelRow>();
  for (const chunk of chunked(imageIds, ID_CHUNK)) {
    for (const l of db.select().from(labels).where(inArray(labels.imageId, chunk)).all()) out.set(l.imageId, l);
  }
  return out;
}

type NewLabelEvent = Required<Omit<typeof labelEvents.$inferInsert, "id" | "createdAt">>;
type NewLabel = Required<typeof labels.$inferInsert>;

function placeholders<K extends string>(keys: readonly K[]): Record<K, Placeholder> {
  const out = {} as Record<K, Placeholder>;
  for (const k of keys) out[k] = sql.placeholder(k);
  return out;
}

const EVENT_KEYS = ["projectId", "imageId", "actionId", "prevClassId", "prevSource", "classId", "source", "actor", "modelVersion", "confidence", "via"] as const satisfies readonly (keyof NewLabelEvent)[];
const LABEL_KEYS = ["imageId", "projectId", "classId", "source", "actor", "actionId", "modelVersion", "confidence", "via", "setAt"] as const satisfies readonly (keyof NewLabel)[];

function insertLabelEvents(db: Db, rows: readonly NewLabelEvent[]): void {
  if (rows.length === 0) return;
  const insert = db.insert(labelEvents).values(placeholders(EVENT_KEYS)).prepare();
  for (const row of rows) insert.run(row);
}

/** The value the conflicting insert proposed for this column (SQLite's "excluded" row). */
const excluded = (column: { name: string }) => sql.raw(`excluded."${column.name}"`);

/** Writes label rows, each replacing its image's current label. */
function upsertLabels(db: Db, rows: readonly NewLabel[]): void {
  if (rows.length === 0) return;
  const upsert = db
    .insert(labels)
    .values(placeholders(LABEL_KEYS))
    .onConflictDoUpdate({
      target: labels.imageId,
      set: {
        projectId: excluded(labels.projectId),
        classId: excluded(labels.classId),
        source: excluded(labels.source),
        actor: excluded(labels.actor),
        actionId: excluded(labels.actionId),
        modelVersion: excluded(labels.modelVersion),
        confidence: excluded(labels.confidence),
        via: excluded(labels.via),
        setAt: excluded(labels.setAt),
      },
    })
    .prepare();
  for (const row of rows) upsert.run(row);
}

function deleteLabels(db: Db, imageIds: readonly number[]): void {
  for (const chunk of chunked(imageIds, ID_CHUNK)) db.delete(labels).where(inArray(labels.imageId, chunk)).run();
}

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
    const current = currentLabels(db, change.imageIds);
    const toChange = change.imageIds.filter((id) => {
      const cur = current.get(id);
      return change.classId === null
        ? cur !== undefined
        : cur?.classId !== change.classId || cur.source !== change.source || (change.via != null && cur.via !== change.via);
    });
    if (toChange.length === 0) return { actionId: null, changed: 0 };
    const actionId = change.actionId ?? createLabelAction(db, change.projectId, change.kind, change.actor);
    const confidenceOf = (imageId: number) => change.confidenceByImage?.get(imageId) ?? change.confidence ?? null;
    insertLabelEvents(
      db,
      toChange.map((imageId) => {
        const prev = current.get(imageId);
        return {
          projectId: change.projectId,
          imageId,
          actionId,
          prevClassId: prev?.classId ?? null,
          prevSource: prev?.source ?? null,
          classId: change.classId,
          source: change.classId === null ? null : change.source,
          actor: change.actor,
          modelVersion: change.modelVersion ?? null,
          confidence: confidenceOf(imageId),
          via: change.classId === null ? null : (change.via ?? null),
        };
      }),
    );
    if (change.classId === null) {
      deleteLabels(db, toChange);
    } else {
      const setAt = Date.now();
      const classId = change.classId;
      upsertLabels(
        db,
        toChange.map((imageId) => ({
          imageId,
          projectId: change.projectId,
          classId,
          source: change.source,
          actor: change.actor,
          actionId,
          modelVersion: change.modelVersion ?? null,
          confidence: confidenceOf(imageId),
          via: change.via ?? null,
          setAt,
        })),
      );
    }
    return { actionId, changed: toChange.length };
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
  const found = chunked(unique, ID_CHUNK).flatMap((chunk) =>
    db
      .select({ id: images.id })
      .from(images)
      .where(and(eq(images.projectId, projectId), inArray(images.id, chunk)))
      .all(),
  );
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
    // The action's events, each with the id of its image's event before it (the provenance to restore).
    const ev = alias(labelEvents, "ev");
    const events = db
      .select({
        event: ev,
        // Spelled out: drizzle writes a one-table query's columns unqualified, and "image_id" here would mean p's.
        beforeId: sql<number | null>`(select max(p.id) from label_events p where p.image_id = "ev"."image_id" and p.id < "ev"."id")`,
      })
      .from(ev)
      .where(eq(ev.actionId, target.id))
      .orderBy(ev.id)
      .all();
    const undo = db.insert(labelActions).values({ projectId, kind: "undo", actor }).returning().get();
    const liveClassIds = new Set(
      db.select({ id: classes.id }).from(classes).where(eq(classes.projectId, projectId)).all().map((c) => c.id),
    );
    const current = currentLabels(
      db,
      events.map((e) => e.event.imageId),
    );
    const beforeIds = events.flatMap((e) => (e.beforeId === null ? [] : [e.beforeId]));
    const beforeById = new Map<number, LabelEventRow>();
    for (const chunk of chunked(beforeIds, ID_CHUNK)) {
      for (const row of db.select().from(labelEvents).where(inArray(labelEvents.id, chunk)).all()) beforeById.set(row.id, row);
    }
    const newEvents: NewLabelEvent[] = [];
    const toDelete: number[] = [];
    const toRestore: NewLabel[] = [];
    let skipped = 0;
    for (const { event: ev, beforeId } of events) {
      const cur = current.get(ev.imageId);
      const unchangedSince = cur ? cur.classId === ev.classId && cur.source === ev.source : ev.classId === null;
      const prevStillExists = ev.prevClassId === null || liveClassIds.has(ev.prevClassId);
      if (!unchangedSince || !prevStillExists) {
        skipped++;
        continue;
      }
      // Restore the provenance the label had before (model version, confidence) from its last event.
      const before = beforeId === null ? undefined : beforeById.get(beforeId);
      newEvents.push({
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
        via: ev.prevClassId === null ? null : (before?.via ?? null),
      });
      if (ev.prevClassId === null) {
        toDelete.push(ev.imageId);
      } else {
        toRestore.push({
          imageId: ev.imageId,
          projectId,
          classId: ev.prevClassId,
          source: ev.prevSource ?? "human",
          actor: before?.actor ?? actor,
          actionId: before?.actionId ?? undo.id,
          modelVersion: before?.modelVersion ?? null,
          confidence: before?.confidence ?? null,
          via: before?.via ?? null,
          setAt: before?.createdAt ?? Date.now(),
        });
      }
    }
    insertLabelEvents(db, newEvents);
    deleteLabels(db, toDelete);
    upsertLabels(db, toRestore);
    const restored = newEvents.length;
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
      via: labelEvents.via,
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
