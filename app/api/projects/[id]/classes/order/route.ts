import { z } from "zod";
import { getDb } from "@/lib/db/client";
import { reorderClasses } from "@/lib/db/queries/classes";
import { getProject } from "@/lib/db/queries/projects";
import { apiRoute, parseId, parseJson } from "@/lib/http";

const body = z.object({ classIds: z.array(z.number().int().positive()).max(1000) });

export const PUT = apiRoute<{ id: string }>(async (req, { id }) => {
  const projectId = getProject(getDb(), parseId(id, "id")).id;
  const { classIds } = await parseJson(req, body);
  return { classes: reorderClasses(getDb(), projectId, classIds) };
});
