"use client";

import Link from "next/link";
import { useState } from "react";
import { modelDownloadUrl, type TrainingRun } from "@/app/lib/api";
import { useModelExportStatus, usePrepareModelExport, useProjectRuns } from "@/app/lib/hooks";
import { evidenceText } from "./Evidence";

const buttonCls = "self-start rounded border border-sky-700 bg-sky-900/40 px-2 py-1 text-sky-100 hover:bg-sky-800/60";

export const runLabel = (r: TrainingRun) =>
  `${r.modelVersion}${r.heldOut === null ? "" : ` · held-out ${evidenceText(r.heldOut)}`}${r.preset ? ` · ${r.preset}` : ""}`;

/**
 * "Export model": a succeeded run's model (latest by default) as a TensorFlow.js zip, and a link to
 * try it on an image. A run writes its model files as it finishes; for an older run the worker
 * writes them first ("Prepare"), and the link appears when they are ready.
 */
export function PredictModelDownload({ projectId }: { projectId: number }) {
  const runs = useProjectRuns(projectId);
  const succeeded = runs.data?.runs.filter((r) => r.status === "succeeded") ?? [];
  const [chosen, setChosen] = useState<number | null>(null);
  const runId = chosen ?? succeeded[0]?.id ?? null;
  const status = useModelExportStatus(projectId, runId);
  const prepare = usePrepareModelExport(projectId);
  const job = status.data?.job;
  const preparing = prepare.isPending || job?.status === "queued" || job?.status === "running";

  return (
    <section className="flex flex-col gap-2 text-xs" data-testid="model-export">
      <h3 className="font-semibold tracking-wide text-zinc-400 uppercase">Export model</h3>
      {runId === null ? (
        <p className="text-zinc-500">{runs.isPending ? "Loading…" : "No trained model yet: train a run first."}</p>
      ) : (
        <>
          <label className="flex items-center gap-2 text-zinc-300">
            Model
            <select
              className="min-w-0 flex-1 rounded border border-zinc-700 bg-zinc-950 px-1 py-0.5"
              value={runId}
              onChange={(e) => setChosen(Number(e.target.value))}
              data-testid="model-export-run"
            >
              {succeeded.map((r) => (
                <option key={r.id} value={r.id}>
                  {runLabel(r)}
                </option>
              ))}
            </select>
          </label>
          <p className="text-zinc-500">TensorFlow.js model, labels, preprocessing and metrics, with Node and browser snippets.</p>
          {status.data?.ready ? (
            <a href={modelDownloadUrl(projectId, runId)} download className={buttonCls} data-testid="model-export-download">
              Download model .zip
            </a>
          ) : preparing ? (
            <span className="text-zinc-400" aria-live="polite">
              Writing the model files…
            </span>
          ) : status.data ? (
            <>
              {job?.status === "failed" && <span className="text-red-400">Could not write the model files: {job.error}</span>}
              <button className={buttonCls} onClick={() => prepare.mutate(runId)} data-testid="model-export-prepare">
                Prepare model download
              </button>
            </>
          ) : (
            status.error && <span className="text-red-400">{status.error.message}</span>
          )}
          <Link href={`/projects/${projectId}/predict`} className="text-sky-400 hover:underline" data-testid="predict-link">
            Try the model on an image →
          </Link>
        </>
      )}
    </section>
  );
}
