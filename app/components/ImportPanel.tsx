"use client";

import { useCallback, useEffect, useRef, useState } from "react";
import { useDropzone } from "react-dropzone";
import { planBatches, uploadBatch, type Job, type UploadFile } from "@/app/lib/api";
import { isActiveJob, useImportServerFolder, useInvalidateProject, useJob } from "@/app/lib/hooks";
import { ProgressBar } from "./ProgressBar";
import { emptyReport, UploadReport, type ImportReportData } from "./UploadReport";

/**
 * The name a file is sent under: its path inside the chosen or dropped folder when there is one,
 * because ImageFolder import reads the class from the folder name.
 */
function relativeNameOf(file: File): string {
  const withPath = file as File & { path?: string; relativePath?: string };
  const raw = file.webkitRelativePath || withPath.relativePath || withPath.path || file.name;
  return raw.replace(/^\.?\/+/, "") || file.name;
}

interface UploadProgress {
  batch: number;
  batchCount: number;
  batchFraction: number;
  overallFraction: number;
}

type WatchedJob = { id: number; name: string };

// React's input types lack the non-standard directory attributes that every browser supports.
const directoryAttrs = { webkitdirectory: "", directory: "" } as React.InputHTMLAttributes<HTMLInputElement>;

export function ImportPanel({ projectId }: { projectId: number }) {
  const invalidate = useInvalidateProject(projectId);
  const importFolder = useImportServerFolder(projectId);
  const [labelsFromFolders, setLabelsFromFolders] = useState(false);
  const [progress, setProgress] = useState<UploadProgress | null>(null);
  const [report, setReport] = useState<ImportReportData | null>(null);
  const [watchedJobs, setWatchedJobs] = useState<WatchedJob[]>([]);
  const [serverPath, setServerPath] = useState("");
  const [serverError, setServerError] = useState<string | null>(null);
  const abortRef = useRef<(() => void) | null>(null);
  const cancelledRef = useRef(false);
  const fileInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);

  const uploading = progress !== null;

  const startUpload = useCallback(
    async (files: File[]) => {
      if (files.length === 0 || uploading) return;
      const toSend: UploadFile[] = files.map((file) => ({ file, relativeName: relativeNameOf(file) }));
      const batches = planBatches(toSend);
      const totalBytes = Math.max(1, toSend.reduce((s, f) => s + f.file.size, 0));
      let doneBytes = 0;
      cancelledRef.current = false;
      setReport(emptyReport());
      setWatchedJobs([]);
      for (let b = 0; b < batches.length && !cancelledRef.current; b++) {
        const batch = batches[b];
        const batchBytes = batch.reduce((s, f) => s + f.file.size, 0);
        const show = (fraction: number) =>
          setProgress({
            batch: b + 1,
            batchCount: batches.length,
            batchFraction: fraction,
            overallFraction: (doneBytes + fraction * batchBytes) / totalBytes,
          });
        show(0);
        const { promise, abort } = uploadBatch(projectId, batch, labelsFromFolders, show);
        abortRef.current = abort;
        try {
          const res = await promise;
          setReport((r) => ({
            ...(r ?? emptyReport()),
            added: [...(r?.added ?? []), ...res.added],
            duplicates: [...(r?.duplicates ?? []), ...res.duplicates],
            rejected: [...(r?.rejected ?? []), ...res.rejected],
            labeled: (r?.labeled ?? 0) + (res.labeled ?? 0),
            classesCreated: [...(r?.classesCreated ?? []), ...(res.classesCreated ?? [])],
          }));
          if (res.jobs.length) setWatchedJobs((js) => [...js, ...res.jobs]);
        } catch (err) {
          // A failed batch is reported per file; the remaining batches still go.
          const reason = (err as Error).message;
          setReport((r) => ({
            ...(r ?? emptyReport()),
            rejected: [...(r?.rejected ?? []), ...batch.map((f) => ({ name: f.relativeName, reason }))],
          }));
        }
        doneBytes += batchBytes;
        void invalidate();
      }
      abortRef.current = null;
      setProgress(null);
    },
    [projectId, labelsFromFolders, uploading, invalidate],
  );

  const cancelUpload = () => {
    cancelledRef.current = true;
    abortRef.current?.();
  };

  const onJobDone = useCallback(
    (watched: WatchedJob, job: Job) => {
      setWatchedJobs((js) => js.filter((j) => j.id !== watched.id));
      setReport((r) => ({
        ...(r ?? emptyReport()),
        jobResults: [
          ...(r?.jobResults ?? []),
          {
            jobId: job.id,
            name: watched.name,
            result: job.status === "succeeded" ? job.result : null,
            error: job.status === "succeeded" ? null : (job.error ?? `import ${job.status}`),
          },
        ],
      }));
      void invalidate();
    },
    [invalidate],
  );

  const { getRootProps, isDragActive } = useDropzone({
    onDrop: (accepted) => void startUpload(accepted),
    noClick: true,
    noKeyboard: true,
    disabled: uploading,
  });

  const pickFiles = (e: React.ChangeEvent<HTMLInputElement>) => {
    const files = Array.from(e.target.files ?? []);
    e.target.value = ""; // so that picking the same files again still fires a change
    void startUpload(files);
  };

  const submitServerFolder = async (e: React.FormEvent) => {
    e.preventDefault();
    const path = serverPath.trim();
    if (!path) return;
    setServerError(null);
    try {
      const job = await importFolder.mutateAsync(path);
      if (!uploading) setReport((r) => (watchedJobs.length > 0 && r ? r : emptyReport()));
      setWatchedJobs((js) => [...js, { id: job.id, name: path }]);
    } catch (err) {
      setServerError((err as Error).message);
    }
  };

  const finished = !uploading && watchedJobs.length === 0 && report !== null;
  const btn = "rounded border border-zinc-700 px-2 py-1 text-xs text-zinc-200 hover:bg-zinc-800 disabled:opacity-50";

  return (
    <section className="flex flex-col gap-2" data-testid="import-panel">
      <h3 className="text-xs font-semibold tracking-wide text-zinc-400 uppercase">Import</h3>
      <div
        {...getRootProps()}
        data-testid="dropzone"
        className={`flex flex-col items-center gap-2 rounded border-2 border-dashed p-3 text-center text-xs transition-colors ${
          isDragActive ? "border-sky-500 bg-sky-500/10 text-sky-200" : "border-zinc-700 text-zinc-400"
        }`}
      >
        <span>Drop images, folders or .zip files here</span>
        <div className="flex gap-2">
          <button type="button" className={btn} disabled={uploading} onClick={() => fileInput.current?.click()}>
            Choose files
          </button>
          <button type="button" className={btn} disabled={uploading} onClick={() => folderInput.current?.click()}>
            Choose folder
          </button>
        </div>
        <input
          ref={fileInput}
          type="file"
          multiple
          accept="image/*,.zip,application/zip"
          data-testid="file-input"
          className="hidden"
          onChange={pickFiles}
        />
        <input ref={folderInput} type="file" multiple {...directoryAttrs} data-testid="folder-input" className="hidden" onChange={pickFiles} />
      </div>
      <label className="flex items-center gap-2 text-xs text-zinc-300">
        <input
          type="checkbox"
          data-testid="labels-from-folders"
          checked={labelsFromFolders}
          disabled={uploading}
          onChange={(e) => setLabelsFromFolders(e.target.checked)}
        />
        Use folder names as labels (ImageFolder)
      </label>

      {progress && (
        <div className="flex flex-col gap-1.5" data-testid="upload-progress">
          <ProgressBar fraction={progress.batchFraction} label={`Batch ${progress.batch}/${progress.batchCount}`} />
          <ProgressBar
            fraction={progress.overallFraction}
            label={`Batch ${progress.batch}/${progress.batchCount} · ${Math.round(progress.overallFraction * 100)}% overall`}
          />
          <button type="button" className={`${btn} self-start`} onClick={cancelUpload}>
            Cancel upload
          </button>
        </div>
      )}
      {watchedJobs.map((j) => (
        <JobWatcher key={j.id} watched={j} onDone={onJobDone} />
      ))}
      {finished && report && <UploadReport report={report} onDismiss={() => setReport(null)} />}

      <form onSubmit={submitServerFolder} className="flex flex-col gap-1">
        <label className="text-xs text-zinc-400" htmlFor="server-folder">
          Import a folder on the server
        </label>
        <div className="flex gap-1">
          <input
            id="server-folder"
            data-testid="server-folder-path"
            value={serverPath}
            onChange={(e) => setServerPath(e.target.value)}
            placeholder="/data/images/cats-vs-dogs"
            className="min-w-0 flex-1 rounded border border-zinc-700 bg-zinc-950 px-1.5 py-1 text-xs outline-none focus:border-sky-500"
          />
          <button type="submit" className={btn} disabled={importFolder.isPending || !serverPath.trim()} data-testid="server-folder-import">
            Import
          </button>
        </div>
        {serverError && (
          <p className="text-xs text-red-400" data-testid="server-folder-error">
            {serverError}
          </p>
        )}
      </form>
    </section>
  );
}

/** Polls one import job and reports its end once. */
function JobWatcher({ watched, onDone }: { watched: WatchedJob; onDone: (w: WatchedJob, job: Job) => void }) {
  const job = useJob(watched.id);
  const reported = useRef(false);
  useEffect(() => {
    if (job.data && !isActiveJob(job.data) && !reported.current) {
      reported.current = true;
      onDone(watched, job.data);
    }
  }, [job.data, watched, onDone]);
  useEffect(() => {
    // A job we cannot read (deleted, or a server error) must not keep the report waiting forever.
    if (job.error && !reported.current) {
      reported.current = true;
      onDone(watched, {
        id: watched.id,
        type: "import",
        status: "failed",
        progress: null,
        progressMessage: null,
        result: null,
        error: job.error.message,
      });
    }
  }, [job.error, watched, onDone]);
  const d = job.data;
  return (
    <ProgressBar
      testId="job-progress"
      fraction={d?.progress ?? null}
      label={`${watched.name}: ${d ? (d.progressMessage ?? d.status) : "queued"}`}
    />
  );
}
