import { getDb } from "@/lib/db/client";
import { getProject } from "@/lib/db/queries/projects";
import { apiRoute, parseId } from "@/lib/http";
import { listJobs } from "@/lib/jobs";

export const GET = apiRoute<{ id: string }>((_req, { id }) => {
  const projectId = getProject(getDb(), parseId(id, "id")).id;
  return { jobs: listJobs(getDb(), { projectId, limit: 20 }) };
});
