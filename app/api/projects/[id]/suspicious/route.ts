import { getDb } from "@/lib/db/client";
import { getProject } from "@/lib/db/queries/projects";
import { apiRoute, parseId } from "@/lib/http";
import { listSuspiciousLabels } from "@/lib/review/suspicious";

/** GET ?sources=human,accepted_proposal&offset=&limit=&runId=: labels the model confidently contradicts, most confident first. */
export const GET = apiRoute<{ id: string }>((req, { id }) => {
  const projectId = getProject(getDb(), parseId(id, "id")).id;
  // The query is parsed (and a bad one answered 400) by the lib function's zod schema.
  return listSuspiciousLabels(getDb(), projectId, Object.fromEntries(new URL(req.url).searchParams));
});
