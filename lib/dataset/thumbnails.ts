import type { Db } from "@/lib/db/client";
import { listProjectImageBlobs, setThumbStatus } from "@/lib/db/queries/images";
import { blobPath, exists, thumbPath, writeThumbnail } from "@/lib/storage";
import type { OnProgress } from "./run";

export type ThumbnailReport = { checked: number; rebuilt: number; failed: number; stopped: string | null };

/**
 * Re-makes the thumbnails of a project that are missing on disk or not marked ready (a crash
 * between blob and thumbnail, a deleted thumbs folder, a failed earlier attempt).
 */
export async function rebuildThumbnails(db: Db, projectId: number, onProgress?: OnProgress): Promise<ThumbnailReport> {
  const report: ThumbnailReport = { checked: 0, rebuilt: 0, failed: 0, stopped: null };
  const rows = listProjectImageBlobs(db, projectId);
  for (const row of rows) {
    report.checked++;
    if (row.thumbStatus !== "ready" || !(await exists(thumbPath(row.sha256)))) {
      try {
        await writeThumbnail(blobPath(row.sha256), row.sha256);
        setThumbStatus(db, row.id, "ready");
        report.rebuilt++;
      } catch {
        setThumbStatus(db, row.id, "failed");
        report.failed++;
      }
    }
    if (onProgress?.(report.checked, rows.length) === true) {
      report.stopped = "cancelled";
      break;
    }
  }
  return report;
}
