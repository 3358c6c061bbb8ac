import { z } from "zod";
import { resolveImportFolder } from "@/lib/dataset/folder";
import { getDb } from "@/lib/db/client";
import { getProject } from "@/lib/db/queries/projects";
import { apiRoute, parseId, parseJson } from "@/lib/http";
import { enqueueJob } from "@/lib/jobs";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

const body = z.object({
  /** A folder on the server, absolute or relative to FIXLABEL_IMPORT_ROOT. */
  path: z.string().trim().min(1, "give the folder to import"),
});

/** POST {path} → { job }: checks the folder now (400/403), imports it in the worker. */
export const POST = apiRoute<{ id: string }>(async (req, { id }) => {
  const db = getDb();
  const projectId = getProject(db, parseId(id, "id")).id;
  const { path } = await parseJson(req, body);
  const { folder } = await resolveImportFolder(path);
  return { job: enqueueJob(db, "import.folder", { projectId, folder }) };
});
