import { getDb } from "@/lib/db/client";
import { apiRoute, parseId } from "@/lib/http";
import { getModelMetrics } from "@/lib/review/metrics";

/** A model version's held-out accuracy, per-class precision/recall, confusion matrix, training labels by source, proposal acceptance. */
export const GET = apiRoute<{ runId: string }>((_req, { runId }) => getModelMetrics(getDb(), parseId(runId, "runId")));
