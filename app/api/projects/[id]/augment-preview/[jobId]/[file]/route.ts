import { apiRoute, parseId } from "@/lib/http";
import { readPreviewImage } from "@/lib/training/augment-preview";

/** One rendered view of an augmentation preview job. */
export const GET = apiRoute<{ id: string; jobId: string; file: string }>(async (_req, { id, jobId, file }) => {
  const bytes = await readPreviewImage(parseId(id, "id"), parseId(jobId, "jobId"), file);
  return new Response(new Uint8Array(bytes), { headers: { "content-type": "image/png", "cache-control": "private, max-age=31536000, immutable" } });
});
