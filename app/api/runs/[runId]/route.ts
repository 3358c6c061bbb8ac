import { z } from "zod";
import { getDb } from "@/lib/db/client";
import { apiRoute, parseId, parseQuery } from "@/lib/http";
import { getRunDetail } from "@/lib/training/runs";

const query = z.object({ sinceStep: z.coerce.number().int().min(0).optional() });

/** A run and its progress rows; `?sinceStep=N` returns only rows after step N (charts poll for what is new). */
export const GET = apiRoute<{ runId: string }>((req, { runId }) => {
  const { sinceStep } = parseQuery(req, query);
  return getRunDetail(getDb(), parseId(runId, "runId"), sinceStep ?? null);
});
