/**
 * The web side of model downloads and predictions: which run's model (the latest succeeded one
 * unless a runId is given), and the model zip of GET /api/projects/:id/export/model.
 *
 * The model files are written by the worker (tfjs lives there): a run writes them as it finishes.
 * A run that finished before that step existed (or lost its files) has none yet; then the route
 * queues an "export.model" job and answers 202 with it, and the client asks again once it is done.
 */
import { Readable } from "node:stream";
import { z } from "zod";
import type { Db } from "@/lib/db/client";
import { listClasses } from "@/lib/db/queries/classes";
import { getProject } from "@/lib/db/queries/projects";
import { getRun, listRuns } from "@/lib/db/queries/training";
import type { TrainingRunRow } from "@/lib/db/schema";
import { attachmentDisposition, MAX_FOLDER_BYTES, safeSegment } from "@/lib/dataset/export-format";
import { badRequest, conflict, notFound } from "@/lib/errors";
import { enqueueJob, listJobs, type Job } from "@/lib/jobs";
import { exportLabels, exportMetrics, modelFilesDir, modelReadme, preprocessingSpec, readModelFiles, streamModelZip, type ExportLabel } from "@/lib/ml/export";
import type { TrainConfig } from "@/lib/ml/config";

export const modelQuery = z.object({
  runId: z.coerce.number().int().positive().optional(),
  /** Answer { ready, job, ... } as JSON instead of the zip, and queue nothing. */
  dryRun: z.enum(["0", "1", "true", "false"]).optional().transform((v) => v === "1" || v === "true"),
});
export type ModelQuery = z.input<typeof modelQuery>;

type StoredConfig = { train?: TrainConfig; classIds?: number[] };

/** A succeeded run of the project: `runId`, or the latest. 404 when there is none, 409 when `runId` has no finished model. */
export function resolveModelRun(db: Db, projectId: number, runId?: number): TrainingRunRow {
  getProject(db, projectId);
  if (runId === undefined) {
    const latest = listRuns(db, projectId, 1000).find((r) => r.status === "succeeded");
    if (!latest) throw notFound("trained model (no run of this project has succeeded yet)");
    return latest;
  }
  const run = getRun(db, runId);
  if (run.projectId !== projectId) throw notFound("training run", runId);
  if (run.status !== "succeeded") throw conflict(`run ${runId} is ${run.status}; only a succeeded run has a model to use`, { runId });
  return run;
}

/** The output index -> class of a run, with the classes' current names. */
export function runLabels(db: Db, run: TrainingRunRow): ExportLabel[] {
  const { classIds } = run.config as StoredConfig;
  if (!classIds) throw badRequest(`run ${run.id} has no class order stored`);
  return exportLabels(classIds, new Map(listClasses(db, run.projectId).map((c) => [c.id, c.name])));
}

/** The latest "export.model" job of a run (of the project's last 200 jobs), if any. */
function findExportJob(db: Db, run: TrainingRunRow): Job | null {
  return listJobs(db, { projectId: run.projectId, limit: 200 }).find((j) => j.type === "export.model" && (j.payload as { runId: number }).runId === run.id) ?? null;
}

export type ModelExportStatus = {
  runId: number;
  modelVersion: string;
  ready: boolean;
  /** The job preparing the files (or the last one, when it failed); null when none was needed. */
  job: Job | null;
};

export async function modelExportStatus(db: Db, projectId: number, runId?: number): Promise<ModelExportStatus> {
  const run = resolveModelRun(db, projectId, runId);
  const ready = (await readModelFiles(modelFilesDir(run.id))) !== null;
  return { runId: run.id, modelVersion: run.modelVersion, ready, job: ready ? null : findExportJob(db, run) };
}

/** GET /api/projects/:id/export/model: the zip (200), or 202 { ready: false, job } while the worker writes the files. */
export async function exportModel(db: Db, projectId: number, query: z.output<typeof modelQuery>): Promise<Response> {
  if (query.dryRun) return Response.json(await modelExportStatus(db, projectId, query.runId));
  const run = resolveModelRun(db, projectId, query.runId);
  const dir = modelFilesDir(run.id);
  const files = await readModelFiles(dir);
  if (!files) {
    const active = findExportJob(db, run);
    const job = active && (active.status === "queued" || active.status === "running") ? active : enqueueJob(db, "export.model", { projectId, runId: run.id });
    const status: ModelExportStatus = { runId: run.id, modelVersion: run.modelVersion, ready: false, job };
    return Response.json(status, { status: 202, headers: { "retry-after": "2" } });
  }

  const config = (run.config as StoredConfig).train;
  if (!config) throw badRequest(`run ${run.id} has no training config stored`);
  const labels = runLabels(db, run);
  const metrics = exportMetrics(run);
  const preprocessing = preprocessingSpec(config);
  const projectName = getProject(db, projectId).name;
  const readme = modelReadme({ projectName, metrics, labels, preprocessing });
  const body = Readable.toWeb(streamModelZip({ dir, files, labels, preprocessing, metrics, readme })) as ReadableStream<Uint8Array>;
  return new Response(body, {
    headers: {
      "content-type": "application/zip",
      "content-disposition": attachmentDisposition(`${safeSegment(projectName, MAX_FOLDER_BYTES, "project")}-model-${run.modelVersion}.zip`),
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    },
  });
}
