import { actorFromRequest } from "@/lib/actor";
import { getDb } from "@/lib/db/client";
import { getProject } from "@/lib/db/queries/projects";
import { apiRoute, parseId, parseJson } from "@/lib/http";
import { rejectInput, rejectProposals } from "@/lib/review/proposals";

/** POST { runId, imageIds }: the run's model version will not propose these images' classes again. */
export const POST = apiRoute<{ id: string }>(async (req, { id }) => {
  const projectId = getProject(getDb(), parseId(id, "id")).id;
  const input = await parseJson(req, rejectInput);
  return rejectProposals(getDb(), projectId, input, actorFromRequest(req));
});
