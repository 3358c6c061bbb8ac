import type { IngestResult } from "./ingest";

/** Lists in a report are capped so a 200,000-file import cannot produce a giant job result. */
export const REPORT_LIST_CAP = 1000;

export type ImportReport = {
  /** Candidate image files found (after skipping directories, dotfiles and non-image extensions). */
  total: number;
  added: number;
  duplicates: number;
  /** Total rejected; `rejected` lists the first REPORT_LIST_CAP of them. */
  rejectedCount: number;
  rejected: { name: string; reason: string }[];
  /** Files ignored on purpose: dotfiles, __MACOSX, non-image extensions. */
  skipped: number;
  /** Images that got a label from their folder in this import. */
  labeled: number;
  /** Names of the classes this import created. */
  classesCreated: string[];
  /** Why the import ended before the last file ("cancelled", an archive limit), or null. */
  stopped: string | null;
};

export class ReportBuilder {
  readonly report: ImportReport = {
    total: 0,
    added: 0,
    duplicates: 0,
    rejectedCount: 0,
    rejected: [],
    skipped: 0,
    labeled: 0,
    classesCreated: [],
    stopped: null,
  };

  reject(name: string, reason: string): void {
    this.report.rejectedCount++;
    if (this.report.rejected.length < REPORT_LIST_CAP) this.report.rejected.push({ name, reason });
  }

  record(name: string, result: IngestResult): void {
    if (result.status === "added") this.report.added++;
    else if (result.status === "duplicate") this.report.duplicates++;
    else this.reject(name, result.reason);
  }

  /** Keeps the first reason: a cancel after a limit was hit does not hide the limit. */
  stop(reason: string): void {
    this.report.stopped ??= reason;
  }
}

/** "1,234 / 5,000 images" */
export function progressMessage(done: number, total: number, noun = "images"): string {
  return `${done.toLocaleString("en-US")} / ${total.toLocaleString("en-US")} ${noun}`;
}
