import { getDb } from "@/lib/db/client";
import { apiRoute, parseId, parseJson } from "@/lib/http";
import { listProjectRuns, startRunInput, startTrainingRunChecked } from "@/lib/training/runs";

/** The project's runs (model versions), newest first, and why a new one cannot start (or null). */
export const GET = apiRoute<{ id: string }>((_req, { id }) => listProjectRuns(getDb(), parseId(id, "id")));

/** Queues a run: 201 { run, job }; 409 while another run of the project is active; 400 without enough labels. */
export const POST = apiRoute<{ id: string }>(async (req, { id }) => {
  const projectId = parseId(id, "id");
  const input = await parseJson(req, startRunInput);
  return Response.json(await startTrainingRunChecked(getDb(), projectId, input), { status: 201 });
});
