import { z } from "zod";
import { getDb } from "@/lib/db/client";
import { apiRoute, idParam, parseId, parseQuery } from "@/lib/http";
import { compareModels } from "@/lib/review/metrics";

const query = z.object({ with: idParam });

/** GET ?with=<otherRunId>: both versions' metrics, and their accuracy on the held-out images they share. */
export const GET = apiRoute<{ runId: string }>((req, { runId }) => compareModels(getDb(), parseId(runId, "runId"), parseQuery(req, query).with));
