import { getDb } from "@/lib/db/client";
import { exportDataset, exportQuery } from "@/lib/dataset/export";
import { apiRoute, parseId, parseQuery } from "@/lib/http";

/** The labeled dataset as a streamed ImageFolder zip; ?dryRun=1 answers its counts as JSON. */
export const GET = apiRoute<{ id: string }>((req, { id }) =>
  exportDataset(getDb(), parseId(id, "id"), parseQuery(req, exportQuery)),
);
