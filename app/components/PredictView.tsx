"use client";

import Link from "next/link";
import { useEffect, useState } from "react";
import { useDropzone } from "react-dropzone";
import type { ClassDef, PredictResult } from "@/app/lib/api";
import { usePredictImage, useProject, useProjectRuns } from "@/app/lib/hooks";
import { runLabel } from "./PredictModelDownload";

/** A class probability as a bar, in the class's colour. */
function ProbabilityBar({ name, p, color }: { name: string; p: number; color: string }) {
  return (
    <li className="flex items-center gap-2 text-sm" data-testid="predict-bar">
      <span className="w-32 shrink-0 truncate text-zinc-200" title={name}>
        {name}
      </span>
      <span className="relative h-4 flex-1 overflow-hidden rounded bg-zinc-800" role="meter" aria-valuemin={0} aria-valuemax={1} aria-valuenow={p} aria-label={name}>
        <span className="absolute inset-y-0 left-0 rounded" style={{ width: `${100 * p}%`, background: color }} />
      </span>
      <span className="w-14 shrink-0 text-right text-zinc-300 tabular-nums">{(100 * p).toFixed(1)}%</span>
    </li>
  );
}

function Result({ result, classes }: { result: PredictResult; classes: ClassDef[] }) {
  const colorOf = new Map(classes.map((c) => [c.id, c.color]));
  const ms = result.timing.decodeMs + result.timing.predictMs + result.timing.loadMs;
  return (
    <div className="flex flex-col gap-2" data-testid="predict-result">
      <p className="text-xs text-zinc-400">
        Model <span data-testid="predict-model-version">{result.modelVersion}</span> · {ms.toFixed(0)} ms on{" "}
        <span data-testid="predict-backend" title={result.backendReason}>
          {result.backend}
        </span>
        {result.timing.loadMs > 0 && ` (${result.timing.loadMs.toFixed(0)} ms loading the model)`}
      </p>
      <p className="text-xs text-zinc-500" data-testid="predict-backend-reason">
        {result.backendReason}
      </p>
      <ul className="flex flex-col gap-1.5">
        {result.probs.map((c) => (
          <ProbabilityBar key={c.classId} name={c.name} p={c.p} color={colorOf.get(c.classId) ?? "#71717a"} />
        ))}
      </ul>
    </div>
  );
}

/**
 * /projects/:id/predict: drop an image, see the chosen model's class probabilities as bars. The
 * image goes to POST /api/projects/:id/predict and is not stored.
 */
export function PredictView({ projectId }: { projectId: number }) {
  const project = useProject(projectId);
  const runs = useProjectRuns(projectId);
  const predict = usePredictImage(projectId);
  const succeeded = runs.data?.runs.filter((r) => r.status === "succeeded") ?? [];
  const [runId, setRunId] = useState<number | null>(null);
  // The image and its object URL for the preview; the URL is revoked when the next image replaces it.
  const [picked, setPicked] = useState<{ file: File; url: string } | null>(null);
  useEffect(
    () => () => {
      if (picked) URL.revokeObjectURL(picked.url);
    },
    [picked],
  );
  const file = picked?.file ?? null;
  const preview = picked?.url ?? null;

  const run = (f: File, chosen: number | null) => {
    if (f !== file) setPicked({ file: f, url: URL.createObjectURL(f) });
    predict.mutate({ file: f, runId: chosen });
  };
  const { getRootProps, getInputProps, isDragActive } = useDropzone({
    accept: { "image/*": [] },
    multiple: false,
    onDropAccepted: ([f]) => run(f, runId),
  });

  return (
    <div className="mx-auto flex w-full max-w-3xl flex-col gap-4 p-6">
      <div className="flex items-center gap-3">
        <Link href={`/projects/${projectId}`} className="text-xs text-sky-400 hover:underline">
          ← {project.data?.project.name ?? "Project"}
        </Link>
        <h1 className="text-sm font-semibold">Try the model</h1>
      </div>
      {runs.isPending ? (
        <p className="text-sm text-zinc-400">Loading…</p>
      ) : succeeded.length === 0 ? (
        <p className="text-sm text-zinc-400" data-testid="predict-no-model">
          No trained model yet: train a run on the project page first.
        </p>
      ) : (
        <>
          <label className="flex items-center gap-2 text-xs text-zinc-300">
            Model
            <select
              className="rounded border border-zinc-700 bg-zinc-950 px-1 py-0.5"
              value={runId ?? succeeded[0].id}
              onChange={(e) => {
                const chosen = Number(e.target.value);
                setRunId(chosen);
                if (file) run(file, chosen);
              }}
              data-testid="predict-run"
            >
              {succeeded.map((r) => (
                <option key={r.id} value={r.id}>
                  {runLabel(r)}
                </option>
              ))}
            </select>
          </label>
          <div
            {...getRootProps()}
            className={`flex min-h-40 cursor-pointer flex-col items-center justify-center gap-2 rounded border-2 border-dashed p-4 text-sm ${
              isDragActive ? "border-sky-500 bg-sky-950/30" : "border-zinc-700 text-zinc-400 hover:border-zinc-500"
            }`}
            data-testid="predict-drop"
          >
            <input {...getInputProps()} data-testid="predict-input" />
            {preview ? (
              // eslint-disable-next-line @next/next/no-img-element -- a local object URL, nothing to optimise
              <img src={preview} alt={file?.name ?? "the image"} className="max-h-56 max-w-full rounded object-contain" />
            ) : null}
            <span>{isDragActive ? "Drop it here" : "Drop an image here, or click to choose one"}</span>
          </div>
          {predict.isPending && <p className="text-sm text-zinc-400">Predicting…</p>}
          {predict.error && (
            <p className="text-sm text-red-400" data-testid="predict-error">
              {predict.error.message}
            </p>
          )}
          {predict.data && !predict.isPending && <Result result={predict.data} classes={project.data?.classes ?? []} />}
        </>
      )}
    </div>
  );
}
