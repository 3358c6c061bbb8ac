import { eq } from "drizzle-orm";
import { getDb } from "@/lib/db/client";
import { getLabelHistory } from "@/lib/db/queries/labels";
import { images, labels } from "@/lib/db/schema";
import { notFound } from "@/lib/errors";
import { apiRoute, parseId } from "@/lib/http";

export const GET = apiRoute<{ imageId: string }>((_req, { imageId }) => {
  const db = getDb();
  const id = parseId(imageId, "imageId");
  const image = db.select().from(images).where(eq(images.id, id)).get();
  if (!image) throw notFound("image", id);
  const label = db.select().from(labels).where(eq(labels.imageId, id)).get() ?? null;
  return {
    image: { id: image.id, projectId: image.projectId, name: image.originalName, sourcePath: image.sourcePath, width: image.width, height: image.height, format: image.format, bytes: image.bytes, sha256: image.sha256 },
    label,
    history: getLabelHistory(db, id),
  };
});
