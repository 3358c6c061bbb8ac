import { getDb } from "@/lib/db/client";
import { gridQuery, listGridPage } from "@/lib/db/queries/grid";
import { getProject } from "@/lib/db/queries/projects";
import { apiRoute, parseId, parseQuery } from "@/lib/http";

export const GET = apiRoute<{ id: string }>((req, { id }) => {
  const projectId = getProject(getDb(), parseId(id, "id")).id;
  return listGridPage(getDb(), projectId, parseQuery(req, gridQuery));
});
