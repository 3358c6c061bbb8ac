"use client";

import type { ImportJobResult, UploadResponse } from "@/app/lib/api";

/** What one import (a set of upload batches plus the zip / folder jobs they started) produced. */
export interface ImportReportData {
  added: UploadResponse["added"];
  duplicates: UploadResponse["duplicates"];
  rejected: UploadResponse["rejected"];
  labeled: number;
  classesCreated: string[];
  /** Finished jobs: their counts add to the totals. */
  jobResults: { jobId: number; name: string; result: ImportJobResult | null; error: string | null }[];
}

export const emptyReport = (): ImportReportData => ({
  added: [],
  duplicates: [],
  rejected: [],
  labeled: 0,
  classesCreated: [],
  jobResults: [],
});

export function reportTotals(r: ImportReportData) {
  const fromJobs = r.jobResults.flatMap((j) => (j.result ? [j.result] : []));
  const jobFailures = r.jobResults.filter((j) => j.error !== null).map((j) => ({ name: j.name, reason: j.error! }));
  const rejected = [...r.rejected, ...fromJobs.flatMap((j) => j.rejected), ...jobFailures];
  // Jobs list only their first rejections; their counts are complete.
  const unlisted = fromJobs.reduce((s, j) => s + Math.max(0, (j.rejectedCount ?? j.rejected.length) - j.rejected.length), 0);
  return {
    added: r.added.length + fromJobs.reduce((s, j) => s + j.added, 0),
    duplicates: r.duplicates.length + fromJobs.reduce((s, j) => s + j.duplicates, 0),
    rejected,
    rejectedCount: rejected.length + unlisted,
    stopped: r.jobResults.flatMap((j) => (j.result?.stopped ? [`${j.name}: ${j.result.stopped}`] : [])),
    labeled: r.labeled + fromJobs.reduce((s, j) => s + j.labeled, 0),
    classesCreated: [...new Set([...r.classesCreated, ...fromJobs.flatMap((j) => j.classesCreated)])],
  };
}

/** The end-of-import summary; names are rendered as text, never as HTML. */
export function UploadReport({ report, onDismiss }: { report: ImportReportData; onDismiss: () => void }) {
  const t = reportTotals(report);
  const zipAdded = t.added - report.added.length;
  const zipDuplicates = t.duplicates - report.duplicates.length;
  return (
    <div className="flex flex-col gap-1 rounded border border-zinc-800 bg-zinc-950 p-2 text-xs" data-testid="import-report">
      <div className="flex items-start gap-2">
        <span className="flex-1 font-medium text-zinc-200">
          Added {t.added} · Duplicates skipped {t.duplicates} · Rejected {t.rejectedCount}
        </span>
        <button onClick={onDismiss} className="text-zinc-500 hover:text-zinc-200" aria-label="Dismiss report">
          ✕
        </button>
      </div>
      {t.stopped.map((s) => (
        <div key={s} className="text-amber-300">
          Stopped early: {s}
        </div>
      ))}
      {(t.labeled > 0 || t.classesCreated.length > 0) && (
        <div className="text-zinc-400">
          Labeled from folder names {t.labeled}
          {t.classesCreated.length > 0 && <> · New classes: {t.classesCreated.join(", ")}</>}
        </div>
      )}
      {report.added.length > 0 && (
        <details>
          <summary className="cursor-pointer text-zinc-400">Added files ({report.added.length})</summary>
          <NameList rows={report.added.map((a) => ({ name: a.name }))} />
        </details>
      )}
      {zipAdded > 0 && <div className="text-zinc-400">From archives and folders: {zipAdded} added, {zipDuplicates} duplicates skipped</div>}
      {report.duplicates.length > 0 && (
        <details>
          <summary className="cursor-pointer text-zinc-400">Duplicates ({report.duplicates.length})</summary>
          <NameList rows={report.duplicates.map((d) => ({ name: d.name, detail: `same as image #${d.imageId}` }))} />
        </details>
      )}
      {t.rejected.length > 0 && (
        <details open={t.rejected.length <= 5}>
          <summary className="cursor-pointer text-red-300">
            Rejected ({t.rejectedCount}
            {t.rejectedCount > t.rejected.length && `, first ${t.rejected.length} listed`})
          </summary>
          <NameList rows={t.rejected.map((r) => ({ name: r.name, detail: r.reason }))} />
        </details>
      )}
    </div>
  );
}

function NameList({ rows }: { rows: { name: string; detail?: string }[] }) {
  return (
    <ul className="mt-1 max-h-40 overflow-y-auto pl-2 font-mono text-[11px] text-zinc-300">
      {rows.map((r, i) => (
        <li key={i} className="break-all">
          {r.name}
          {r.detail && <span className="text-zinc-500"> — {r.detail}</span>}
        </li>
      ))}
    </ul>
  );
}
