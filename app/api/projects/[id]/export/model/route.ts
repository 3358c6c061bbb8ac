import { getDb } from "@/lib/db/client";
import { apiRoute, parseId, parseQuery } from "@/lib/http";
import { exportModel, modelQuery } from "@/lib/training/model-export";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/**
 * The trained model (?runId=, default the latest succeeded run) as a zip: 200 with the download,
 * or 202 { ready: false, job } while the worker writes the model files (runs from before exports).
 * ?dryRun=1: { runId, modelVersion, ready, job } and nothing queued.
 */
export const GET = apiRoute<{ id: string }>((req, { id }) => exportModel(getDb(), parseId(id, "id"), parseQuery(req, modelQuery)));
