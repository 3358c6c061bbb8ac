import { actorFromRequest } from "@/lib/actor";
import { getDb } from "@/lib/db/client";
import { undoLastLabelAction } from "@/lib/db/queries/labels";
import { getProject } from "@/lib/db/queries/projects";
import { apiRoute, parseId } from "@/lib/http";

export const POST = apiRoute<{ id: string }>((req, { id }) => {
  const projectId = getProject(getDb(), parseId(id, "id")).id;
  return undoLastLabelAction(getDb(), projectId, actorFromRequest(req));
});
