import { and, asc, eq, isNull, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/lib/db/client";
import { images, labels } from "@/lib/db/schema";

export const gridQuery = z.object({
  filter: z.enum(["all", "unlabeled", "class"]).default("all"),
  classId: z.coerce.number().int().positive().optional(),
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});
export type GridQuery = z.input<typeof gridQuery>;

/**
 * One page of the labeling grid, in import order. Offset paging keeps random access cheap for a
 * virtualized grid that jumps to any row; (project_id, id) and (project_id, class_id, image_id)
 * indexes keep it fast on tens of thousands of images (see bench/import.ts).
 */
export function listGridPage(db: Db, projectId: number, query: GridQuery) {
  const q = gridQuery.parse(query);
  if (q.filter === "class" && !q.classId) throw new z.ZodError([{ code: "custom", path: ["classId"], message: "filter=class needs a classId", input: undefined }]);
  const where = and(
    eq(images.projectId, projectId),
    q.filter === "unlabeled" ? isNull(labels.imageId) : undefined,
    q.filter === "class" ? eq(labels.classId, q.classId!) : undefined,
  );
  const total = db
    .select({ n: sql<number>`count(*)` })
    .from(images)
    .leftJoin(labels, eq(labels.imageId, images.id))
    .where(where)
    .get()!.n;
  const rows = db
    .select({
      id: images.id,
      name: images.originalName,
      width: images.width,
      height: images.height,
      thumbStatus: images.thumbStatus,
      classId: labels.classId,
      source: labels.source,
    })
    .from(images)
    .leftJoin(labels, eq(labels.imageId, images.id))
    .where(where)
    .orderBy(asc(images.id))
    .limit(q.limit)
    .offset(q.offset)
    .all();
  return {
    total,
    offset: q.offset,
    items: rows.map(({ classId, source, ...img }) => ({
      ...img,
      label: classId !== null && source !== null ? { classId, source } : null,
    })),
  };
}
