import { apiRoute, parseId } from "@/lib/http";
import { readSampleImage } from "@/lib/training/samples";

/** One recorded view (weak or strong) of a sample event, as the PNG the worker rendered from the step's tensors. */
export const GET = apiRoute<{ runId: string; step: string; file: string }>(async (_req, { runId, step, file }) => {
  const bytes = await readSampleImage(parseId(runId, "runId"), Number.parseInt(step, 10), file);
  return new Response(new Uint8Array(bytes), { headers: { "content-type": "image/png", "cache-control": "private, max-age=31536000, immutable" } });
});
