import { getDb } from "@/lib/db/client";
import { getProject } from "@/lib/db/queries/projects";
import { apiRoute, parseId, parseQuery } from "@/lib/http";
import { proposalSummary, summaryQuery } from "@/lib/review/proposals";

/** GET ?runId=&threshold=: open proposals per class at the threshold, estimated precision, and the curve behind the slider. */
export const GET = apiRoute<{ id: string }>((req, { id }) => {
  const projectId = getProject(getDb(), parseId(id, "id")).id;
  return proposalSummary(getDb(), projectId, parseQuery(req, summaryQuery));
});
