import { getDb } from "@/lib/db/client";
import { apiRoute } from "@/lib/http";
import { countActiveJobs } from "@/lib/jobs";

export const GET = apiRoute(() => ({ ok: true, activeJobs: countActiveJobs(getDb()) }));
