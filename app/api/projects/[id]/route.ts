import { getDb } from "@/lib/db/client";
import { deleteProject, getProjectWithClasses, updateProject, updateProjectInput } from "@/lib/db/queries/projects";
import { apiRoute, parseId, parseJson } from "@/lib/http";

type P = { id: string };

export const GET = apiRoute<P>((_req, { id }) => getProjectWithClasses(getDb(), parseId(id, "id")));

export const PATCH = apiRoute<P>(async (req, { id }) => {
  const input = await parseJson(req, updateProjectInput);
  return { project: updateProject(getDb(), parseId(id, "id"), input) };
});

export const DELETE = apiRoute<P>((_req, { id }) => {
  deleteProject(getDb(), parseId(id, "id"));
  return { ok: true };
});
