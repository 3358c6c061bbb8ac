import { getDb } from "@/lib/db/client";
import { apiRoute, parseId } from "@/lib/http";
import { requestJobCancel } from "@/lib/jobs";

export const POST = apiRoute<{ jobId: string }>((_req, { jobId }) => ({ job: requestJobCancel(getDb(), parseId(jobId, "jobId")) }));
