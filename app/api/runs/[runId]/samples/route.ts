import { z } from "zod";
import { getDb } from "@/lib/db/client";
import { apiRoute, parseId, parseQuery } from "@/lib/http";
import { getRunSamples } from "@/lib/training/samples";

const query = z.object({ step: z.coerce.number().int().min(0).optional() });

/** "How it learns": the run's latest recorded sample event (or `?step=N`), with the steps recorded. */
export const GET = apiRoute<{ runId: string }>((req, { runId }) => {
  const { step } = parseQuery(req, query);
  return getRunSamples(getDb(), parseId(runId, "runId"), step);
});
