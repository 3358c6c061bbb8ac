import { and, asc, eq, gt, gte, inArray, ne, or } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { images, labels, type LabelSource } from "@/lib/db/schema";

/** Which labeled images an export takes. */
export type ExportFilter = {
  sources: readonly LabelSource[];
  /** Applies to accepted proposals only: human and imported labels carry no confidence. */
  minConfidence: number | null;
  /** null = every class. */
  classIds: readonly number[] | null;
};

function exportWhere(projectId: number, filter: ExportFilter, afterImageId: number) {
  return and(
    eq(labels.projectId, projectId),
    gt(labels.imageId, afterImageId),
    inArray(labels.source, [...filter.sources]),
    filter.classIds ? inArray(labels.classId, [...filter.classIds]) : undefined,
    filter.minConfidence !== null
      ? or(ne(labels.source, "accepted_proposal"), gte(labels.confidence, filter.minConfidence))
      : undefined,
  );
}

/**
 * One page of the labeled images an export takes, in image-id order, starting after `afterImageId`.
 * Keyset paging, not one big query or an open iterator: a better-sqlite3 iterator keeps the shared
 * connection busy for every other request until it is finished, and an export streams for minutes.
 */
export function listExportRowsPage(db: Db, projectId: number, filter: ExportFilter, afterImageId: number, limit: number) {
  return db
    .select({
      imageId: images.id,
      sha256: images.sha256,
      originalName: images.originalName,
      sourcePath: images.sourcePath,
      format: images.format,
      width: images.width,
      height: images.height,
      bytes: images.bytes,
      classId: labels.classId,
      source: labels.source,
      actor: labels.actor,
      modelVersion: labels.modelVersion,
      confidence: labels.confidence,
      via: labels.via,
      setAt: labels.setAt,
    })
    .from(labels)
    .innerJoin(images, eq(images.id, labels.imageId))
    .where(exportWhere(projectId, filter, afterImageId))
    .orderBy(asc(labels.imageId))
    .limit(limit)
    .all();
}

/** The same images as listExportRowsPage with only what the train/val split needs (it reads them all first). */
export function listExportSplitKeysPage(db: Db, projectId: number, filter: ExportFilter, afterImageId: number, limit: number) {
  return db
    .select({ imageId: labels.imageId, classId: labels.classId, sha256: images.sha256 })
    .from(labels)
    .innerJoin(images, eq(images.id, labels.imageId))
    .where(exportWhere(projectId, filter, afterImageId))
    .orderBy(asc(labels.imageId))
    .limit(limit)
    .all();
}

export type ExportRow = ReturnType<typeof listExportRowsPage>[number];

type PageReader<T> = (db: Db, projectId: number, filter: ExportFilter, afterImageId: number, limit: number) => T[];

/** Every page of a page reader, in image-id order. Synchronous between pages, so callers decide where to yield. */
export function* exportPages<T extends { imageId: number }>(
  read: PageReader<T>,
  db: Db,
  projectId: number,
  filter: ExportFilter,
  pageSize = 1000,
): Generator<T[]> {
  let after = 0;
  for (;;) {
    const page = read(db, projectId, filter, after, pageSize);
    if (page.length === 0) return;
    yield page;
    if (page.length < pageSize) return;
    after = page[page.length - 1].imageId;
  }
}
