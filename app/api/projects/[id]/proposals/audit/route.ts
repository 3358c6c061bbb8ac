import { actorFromRequest } from "@/lib/actor";
import { getDb } from "@/lib/db/client";
import { getProject } from "@/lib/db/queries/projects";
import { apiRoute, parseId, parseJson, parseQuery } from "@/lib/http";
import { answerAudit, auditAnswersInput, auditSample, auditSampleQuery } from "@/lib/review/proposals";

/** GET ?runId=&threshold=&classId=&size=&seed=: a seeded random sample of the proposals at or above the threshold, per class. */
export const GET = apiRoute<{ id: string }>((req, { id }) => {
  const projectId = getProject(getDb(), parseId(id, "id")).id;
  return auditSample(getDb(), projectId, parseQuery(req, auditSampleQuery));
});

/** POST { runId, floor, answers: [{ imageId, classId }] }: a person's verdicts, recorded as human labels from an audit. */
export const POST = apiRoute<{ id: string }>(async (req, { id }) => {
  const projectId = getProject(getDb(), parseId(id, "id")).id;
  const input = await parseJson(req, auditAnswersInput);
  return answerAudit(getDb(), projectId, input, actorFromRequest(req));
});
