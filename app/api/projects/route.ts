import { getDb } from "@/lib/db/client";
import { createProject, createProjectInput, listProjects } from "@/lib/db/queries/projects";
import { apiRoute, methodNotAllowed, parseJson } from "@/lib/http";

export const GET = apiRoute(() => ({ projects: listProjects(getDb()) }));

export const POST = apiRoute(async (req) => {
  const input = await parseJson(req, createProjectInput);
  return Response.json({ project: createProject(getDb(), input) }, { status: 201 });
});

const notAllowed = methodNotAllowed(["GET", "POST"]);
export const PUT = notAllowed;
export const PATCH = notAllowed;
export const DELETE = notAllowed;
