import { getDb } from "@/lib/db/client";
import { classInput, createClass } from "@/lib/db/queries/classes";
import { getProject } from "@/lib/db/queries/projects";
import { apiRoute, parseId, parseJson } from "@/lib/http";

export const POST = apiRoute<{ id: string }>(async (req, { id }) => {
  const projectId = getProject(getDb(), parseId(id, "id")).id;
  const input = await parseJson(req, classInput);
  return Response.json({ class: createClass(getDb(), projectId, input) }, { status: 201 });
});
