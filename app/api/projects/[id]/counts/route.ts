import { getDb } from "@/lib/db/client";
import { getLabelCounts } from "@/lib/db/queries/labels";
import { getProject } from "@/lib/db/queries/projects";
import { apiRoute, parseId } from "@/lib/http";

export const GET = apiRoute<{ id: string }>((_req, { id }) => {
  const projectId = getProject(getDb(), parseId(id, "id")).id;
  return getLabelCounts(getDb(), projectId);
});
