import { actorFromRequest } from "@/lib/actor";
import { getDb } from "@/lib/db/client";
import { setHumanLabels, setLabelsInput } from "@/lib/db/queries/labels";
import { getProject } from "@/lib/db/queries/projects";
import { apiRoute, parseId, parseJson } from "@/lib/http";

export const POST = apiRoute<{ id: string }>(async (req, { id }) => {
  const projectId = getProject(getDb(), parseId(id, "id")).id;
  const input = await parseJson(req, setLabelsInput);
  return setHumanLabels(getDb(), projectId, input, actorFromRequest(req));
});
