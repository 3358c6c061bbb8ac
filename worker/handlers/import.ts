import path from "node:path";
import { importFolder } from "@/lib/dataset/folder";
import { progressMessage, type ImportReport } from "@/lib/dataset/report";
import type { OnProgress } from "@/lib/dataset/run";
import { rebuildThumbnails, type ThumbnailReport } from "@/lib/dataset/thumbnails";
import { importZip } from "@/lib/dataset/zip";
import { AppError } from "@/lib/errors";
import type { JobPayload } from "@/lib/jobs";
import { isInside, removeQuietly, stagingDir } from "@/lib/storage";
import type { JobContext } from "../context";

/** Labels set by a queued import are attributed to the importer, not to a person. */
const IMPORT_ACTOR = "import";
const PROGRESS_EVERY_MS = 250;

/**
 * Adapts the job's progress() to an import's per-file callback: at most one database write every
 * 250 ms (and one at the end); the last cancel answer is reused in between.
 */
function throttledProgress(ctx: JobContext, noun = "images"): OnProgress {
  let last = 0;
  let stop = false;
  return (done, total) => {
    const now = Date.now();
    if (now - last >= PROGRESS_EVERY_MS || done === total) {
      last = now;
      stop = ctx.progress(total ? done / total : 1, progressMessage(done, total, noun));
    }
    return stop;
  };
}

/**
 * A stop caused by the worker shutting down is not the user's cancel: the runner puts the job back
 * in the queue, and the re-run finds the files already imported as duplicates.
 */
function markShutdown<T extends { stopped: string | null }>(ctx: JobContext, report: T): T {
  if (ctx.signal.aborted && report.stopped === "cancelled") report.stopped = "worker shutting down";
  return report;
}

export async function handleImportZip(ctx: JobContext, payload: JobPayload<"import.zip">): Promise<ImportReport> {
  // The payload comes from the database, but only archives the upload route staged may be read.
  const zipPath = path.resolve(payload.zipPath);
  if (!isInside(stagingDir(), zipPath)) throw new AppError("forbidden", "import.zip only reads archives in the staging folder");
  ctx.log(`importing ${payload.originalName} into project ${payload.projectId}`);
  const report = markShutdown(
    ctx,
    await importZip(ctx.db, {
      projectId: payload.projectId,
      zipPath,
      actor: IMPORT_ACTOR,
      onProgress: throttledProgress(ctx),
      stagingOwner: { kind: "job", jobId: ctx.jobId, attempt: ctx.attempt ?? 1 },
      // A later attempt counts what its earlier attempts added as added: the report is the job's, not the attempt's.
      earlierAttemptSince: (ctx.attempt ?? 1) > 1 ? ctx.startedAt : undefined,
    }),
  );
  // Kept when the job will run again (shutdown); deleted once the import finished or was cancelled.
  if (payload.deleteAfter && report.stopped !== "worker shutting down") await removeQuietly(zipPath);
  return report;
}

export async function handleImportFolder(ctx: JobContext, payload: JobPayload<"import.folder">): Promise<ImportReport> {
  ctx.log(`importing folder ${payload.folder} into project ${payload.projectId}`);
  // Re-checked against FIXLABEL_IMPORT_ROOT here: the root may have changed since the job was queued.
  const report = await importFolder(ctx.db, {
    projectId: payload.projectId,
    folder: payload.folder,
    actor: IMPORT_ACTOR,
    restrictToImportRoot: true,
    onProgress: throttledProgress(ctx),
  });
  return markShutdown(ctx, report);
}

export async function handleThumbnailsRebuild(ctx: JobContext, payload: JobPayload<"thumbnails.rebuild">): Promise<ThumbnailReport> {
  return markShutdown(ctx, await rebuildThumbnails(ctx.db, payload.projectId, throttledProgress(ctx, "thumbnails")));
}
