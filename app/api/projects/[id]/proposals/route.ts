import { getDb } from "@/lib/db/client";
import { getProject } from "@/lib/db/queries/projects";
import { apiRoute, parseId, parseQuery } from "@/lib/http";
import { listProposals, proposalsQuery } from "@/lib/review/proposals";

/** GET ?classId=&minConfidence=&offset=&limit=&runId=&probs=1: a page of a class's open proposals, most confident first. */
export const GET = apiRoute<{ id: string }>((req, { id }) => {
  const projectId = getProject(getDb(), parseId(id, "id")).id;
  return listProposals(getDb(), projectId, parseQuery(req, proposalsQuery));
});
