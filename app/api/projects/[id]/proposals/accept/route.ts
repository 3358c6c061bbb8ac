import { actorFromRequest } from "@/lib/actor";
import { getDb } from "@/lib/db/client";
import { getProject } from "@/lib/db/queries/projects";
import { apiRoute, parseId, parseJson } from "@/lib/http";
import { acceptInput, acceptProposals } from "@/lib/review/proposals";

/** POST { runId, imageIds } or { runId, classId, minConfidence }: proposals become labels, as one undoable action. */
export const POST = apiRoute<{ id: string }>(async (req, { id }) => {
  const projectId = getProject(getDb(), parseId(id, "id")).id;
  const input = await parseJson(req, acceptInput);
  return acceptProposals(getDb(), projectId, input, actorFromRequest(req));
});
