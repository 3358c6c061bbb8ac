import { actorFromRequest } from "@/lib/actor";
import { getDb } from "@/lib/db/client";
import { getProject } from "@/lib/db/queries/projects";
import { apiRoute, parseId, parseJson } from "@/lib/http";
import { dismissInput, dismissSuspicious, restoreSuspicious } from "@/lib/review/suspicious";

/** POST { runId, imageIds }: keep these labels; the run's model version stops flagging them. */
export const POST = apiRoute<{ id: string }>(async (req, { id }) => {
  const projectId = getProject(getDb(), parseId(id, "id")).id;
  return dismissSuspicious(getDb(), projectId, await parseJson(req, dismissInput), actorFromRequest(req));
});

/** DELETE { runId, imageIds }: undo a keep; the flags come back. */
export const DELETE = apiRoute<{ id: string }>(async (req, { id }) => {
  const projectId = getProject(getDb(), parseId(id, "id")).id;
  return restoreSuspicious(getDb(), projectId, await parseJson(req, dismissInput));
});
