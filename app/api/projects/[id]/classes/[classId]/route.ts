import { z } from "zod";
import { actorFromRequest } from "@/lib/actor";
import { getDb } from "@/lib/db/client";
import { deleteClass, updateClass, updateClassInput } from "@/lib/db/queries/classes";
import { apiRoute, parseId, parseJson, parseQuery } from "@/lib/http";

type P = { id: string; classId: string };

export const PATCH = apiRoute<P>(async (req, { id, classId }) => {
  const input = await parseJson(req, updateClassInput);
  return { class: updateClass(getDb(), parseId(id, "id"), parseId(classId, "classId"), input) };
});

const deleteQuery = z.object({
  labels: z.enum(["unlabel", "move"]).optional(),
  moveTo: z.coerce.number().int().positive().optional(),
});

export const DELETE = apiRoute<P>((req, { id, classId }) => {
  const choice = parseQuery(req, deleteQuery);
  const out = deleteClass(getDb(), parseId(id, "id"), parseId(classId, "classId"), choice, actorFromRequest(req));
  return { ok: true, ...out };
});
