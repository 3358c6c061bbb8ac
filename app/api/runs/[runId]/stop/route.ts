import { getDb } from "@/lib/db/client";
import { apiRoute, parseId } from "@/lib/http";
import { stopTrainingRun } from "@/lib/training/runs";

/** Requests a stop; the run shows "stopped" once the worker acknowledges (at once for a queued run). */
export const POST = apiRoute<{ runId: string }>((_req, { runId }) => stopTrainingRun(getDb(), parseId(runId, "runId")));
