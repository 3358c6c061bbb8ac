import { actorFromRequest } from "@/lib/actor";
import { receiveUpload } from "@/lib/dataset/upload";
import { getDb } from "@/lib/db/client";
import { getProject } from "@/lib/db/queries/projects";
import { apiRoute, parseId } from "@/lib/http";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/**
 * POST multipart/form-data: image files (a folder's files, named by their relative path) and .zip
 * archives; optional field labelsFromFolders=1 before the files.
 * → { added: [{id, name}], duplicates: [{name, imageId}], rejected: [{name, reason}], jobs: [{id, name}], labeled, classesCreated }
 */
export const POST = apiRoute<{ id: string }>(async (req, { id }) => {
  const db = getDb();
  const projectId = getProject(db, parseId(id, "id")).id;
  return receiveUpload(db, {
    projectId,
    contentType: req.headers.get("content-type"),
    body: req.body,
    actor: actorFromRequest(req),
  });
});
