import { getDb } from "@/lib/db/client";
import { getProject } from "@/lib/db/queries/projects";
import { apiRoute, parseId } from "@/lib/http";
import { pickNextToLabel } from "@/lib/review/next";

/** GET ?limit=&pool=&measure=margin|entropy&runId=: unlabeled images to label next, uncertain and spread out (lib/review/next.ts). */
export const GET = apiRoute<{ id: string }>((req, { id }) => {
  const projectId = getProject(getDb(), parseId(id, "id")).id;
  // The query is parsed (and a bad one answered 400) by the lib function's zod schema.
  return pickNextToLabel(getDb(), projectId, Object.fromEntries(new URL(req.url).searchParams));
});
