import { getDb } from "@/lib/db/client";
import { apiRoute, parseId } from "@/lib/http";
import { getJob } from "@/lib/jobs";

export const GET = apiRoute<{ jobId: string }>((_req, { jobId }) => ({ job: getJob(getDb(), parseId(jobId, "jobId")) }));
