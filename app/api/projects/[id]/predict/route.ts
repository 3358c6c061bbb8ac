import { getDb } from "@/lib/db/client";
import { apiRoute, parseId, parseQuery } from "@/lib/http";
import { predictQuery, predictUploadedImage, readImageBody } from "@/lib/training/predict";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/**
 * POST one image (multipart/form-data with one file, or the raw bytes as the body) ?runId= optional
 * → { modelVersion, runId, probs: [{ classId, name, p }] most probable first, backend, timing }.
 */
export const POST = apiRoute<{ id: string }>(async (req, { id }) => {
  const projectId = parseId(id, "id");
  const { runId } = parseQuery(req, predictQuery);
  return predictUploadedImage(getDb(), projectId, await readImageBody(req), runId);
});
