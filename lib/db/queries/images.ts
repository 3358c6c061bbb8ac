import { and, asc, eq, max, sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { classes, images, labelActions, labelEvents, labels, type ClassRow, type ImageRow } from "@/lib/db/schema";
import { nextClassDefaults } from "./classes";

/** Queries the import pipeline needs: image rows by content, import-time classes and labels, thumbnails. */

export type NewImage = Omit<typeof images.$inferInsert, "id" | "createdAt">;

export function findImageBySha(db: Db, projectId: number, sha256: string): ImageRow | undefined {
  return db
    .select()
    .from(images)
    .where(and(eq(images.projectId, projectId), eq(images.sha256, sha256)))
    .get();
}

/**
 * Inserts an image unless the project already holds the same content. The unique index
 * (project_id, sha256) decides, so two concurrent imports of one file give one row: the loser
 * gets `inserted: false` and the winner's row.
 */
export function insertImageUnlessPresent(db: Db, values: NewImage): { image: ImageRow; inserted: boolean } {
  const row = db.insert(images).values(values).onConflictDoNothing().returning().get();
  if (row) return { image: row, inserted: true };
  const existing = findImageBySha(db, values.projectId, values.sha256);
  if (!existing) throw new Error(`image ${values.sha256} conflicted on insert but cannot be found`);
  return { image: existing, inserted: false };
}

/**
 * The class with this name (compared case-insensitively, like class creation does), created at the
 * end of the list with the next palette colour and free hotkey if missing. Runs as one IMMEDIATE
 * transaction so two importers creating the same class end up with one.
 */
export function findOrCreateClassByName(db: Db, projectId: number, name: string): { cls: ClassRow; created: boolean } {
  return db.transaction(
    (tx) => {
      const existing = tx
        .select()
        .from(classes)
        .where(and(eq(classes.projectId, projectId), sql`lower(${classes.name}) = lower(${name})`))
        .get();
      if (existing) return { cls: existing, created: false };
      const all = tx.select({ hotkey: classes.hotkey }).from(classes).where(eq(classes.projectId, projectId)).all();
      const last = tx.select({ position: max(classes.position) }).from(classes).where(eq(classes.projectId, projectId)).get();
      const position = (last?.position ?? -1) + 1;
      const defaults = nextClassDefaults(all.length, all);
      const cls = tx.insert(classes).values({ projectId, name, position, ...defaults }).returning().get();
      return { cls, created: true };
    },
    { behavior: "immediate" },
  );
}

/** One "import" label action: the unit of undo for all labels an import batch sets. */
export function createImportAction(db: Db, projectId: number, actor: string): number {
  return db.insert(labelActions).values({ projectId, kind: "import", actor }).returning({ id: labelActions.id }).get().id;
}

/**
 * Sets an imported label on an image that has none, with its label_events row, in one transaction.
 * An image that is already labeled keeps its label (a person's or an earlier import's): returns false.
 */
export function setImportedLabelIfUnlabeled(
  db: Db,
  args: { projectId: number; imageId: number; classId: number; actionId: number; actor: string },
): boolean {
  return db.transaction(
    (tx) => {
      const inserted = tx
        .insert(labels)
        .values({
          imageId: args.imageId,
          projectId: args.projectId,
          classId: args.classId,
          source: "imported",
          actor: args.actor,
          actionId: args.actionId,
        })
        .onConflictDoNothing()
        .returning({ imageId: labels.imageId })
        .get();
      if (!inserted) return false;
      tx.insert(labelEvents)
        .values({
          projectId: args.projectId,
          imageId: args.imageId,
          actionId: args.actionId,
          prevClassId: null,
          prevSource: null,
          classId: args.classId,
          source: "imported",
          actor: args.actor,
        })
        .run();
      return true;
    },
    { behavior: "immediate" },
  );
}

export function listProjectImageBlobs(db: Db, projectId: number) {
  return db
    .select({ id: images.id, sha256: images.sha256, thumbStatus: images.thumbStatus })
    .from(images)
    .where(eq(images.projectId, projectId))
    .orderBy(asc(images.id))
    .all();
}

export function setThumbStatus(db: Db, imageId: number, thumbStatus: ImageRow["thumbStatus"]): void {
  db.update(images).set({ thumbStatus }).where(eq(images.id, imageId)).run();
}

/** When an image row was created (ms), or null when there is none. */
export function getImageCreatedAt(db: Db, imageId: number): number | null {
  return db.select({ createdAt: images.createdAt }).from(images).where(eq(images.id, imageId)).get()?.createdAt ?? null;
}
