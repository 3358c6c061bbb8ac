import fs from "node:fs";
import { Readable } from "node:stream";
import { eq } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { images } from "@/lib/db/schema";
import { AppError, notFound } from "@/lib/errors";
import { blobPath, THUMB_CONTENT_TYPE, thumbPath } from "@/lib/storage";

const CONTENT_TYPES: Record<string, string> = {
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  gif: "image/gif",
  tiff: "image/tiff",
  avif: "image/avif",
};

/**
 * Streams an image's thumbnail or original bytes. The file is found from the image row's content
 * hash (validated by the storage paths), never from anything in the request, so no request can
 * make this read outside the data folder.
 */
export async function imageFileResponse(db: Db, imageId: number, kind: "thumb" | "original"): Promise<Response> {
  const image = db.select().from(images).where(eq(images.id, imageId)).get();
  if (!image) throw notFound("image", imageId);
  if (kind === "thumb" && image.thumbStatus !== "ready") {
    throw new AppError("not_found", image.thumbStatus === "pending" ? "thumbnail not made yet" : "thumbnail could not be made");
  }
  const file = kind === "thumb" ? thumbPath(image.sha256) : blobPath(image.sha256);
  const stat = await fs.promises.stat(file).catch(() => null);
  if (!stat) throw notFound(kind === "thumb" ? "thumbnail file" : "image file");
  const body = Readable.toWeb(fs.createReadStream(file)) as ReadableStream<Uint8Array>;
  return new Response(body, {
    headers: {
      "content-type": kind === "thumb" ? THUMB_CONTENT_TYPE : (CONTENT_TYPES[image.format] ?? "application/octet-stream"),
      "content-length": String(stat.size),
      // An image id always names the same bytes, so the browser may keep them.
      "cache-control": "private, max-age=31536000, immutable",
      "x-content-type-options": "nosniff",
      "content-security-policy": "default-src 'none'",
    },
  });
}
