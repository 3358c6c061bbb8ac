"use client";

import Link from "next/link";
import { useMemo, useState } from "react";
import { useModelComparison, useModelMetrics, useProject, useProjectRuns } from "@/app/lib/hooks";
import { ModelMetricsPanel } from "./ModelMetricsPanel";
import { Evidence } from "./Evidence";


/**
 * The model page: the project's model versions (succeeded runs), one version's numbers, and a
 * "compare with" choice that puts a second version beside it, with both scored on the held-out
 * images they share (their own held-out sets differ once labels were added between them).
 */
export function ModelsView({ projectId }: { projectId: number }) {
  const project = useProject(projectId);
  const runs = useProjectRuns(projectId);
  const versions = useMemo(() => (runs.data?.runs ?? []).filter((r) => r.status === "succeeded"), [runs.data]);
  const [picked, setPicked] = useState<number | null>(null);
  const [compareWith, setCompareWith] = useState<number | null>(null);
  const selected = versions.find((r) => r.id === picked)?.id ?? versions[0]?.id ?? null;
  const other = compareWith !== null && compareWith !== selected && versions.some((r) => r.id === compareWith) ? compareWith : null;
  const single = useModelMetrics(other === null ? selected : null);
  const comparison = useModelComparison(other === null ? null : selected, other);
  const classesById = useMemo(() => new Map((project.data?.classes ?? []).map((c) => [c.id, c])), [project.data]);

  if (project.isPending || runs.isPending) return <p className="p-6 text-sm text-zinc-400">Loading…</p>;
  if (project.error || runs.error) return <p className="p-6 text-sm text-red-400">Could not load: {(project.error ?? runs.error)!.message}</p>;
  const back = (
    <Link href={`/projects/${projectId}`} className="text-xs text-sky-400 hover:underline">
      ← Back to labeling
    </Link>
  );
  const error = single.error ?? comparison.error;

  return (
    <div className="flex min-h-0 flex-1 flex-col">
      <div className="flex shrink-0 flex-wrap items-center gap-x-4 gap-y-1 border-b border-zinc-800 bg-zinc-900/60 px-4 py-2">
        <h1 className="max-w-xs truncate text-sm font-semibold">Models · {project.data.project.name}</h1>
        {back}
      </div>
      {versions.length === 0 ? (
        <p className="p-6 text-sm text-zinc-300" data-testid="models-empty">
          No finished model yet: train one from the project page.
        </p>
      ) : (
        <div className="flex min-h-0 flex-1">
          <nav className="w-56 shrink-0 overflow-y-auto border-r border-zinc-800 p-2" data-testid="model-versions">
            {versions.map((r) => (
              <button
                key={r.id}
                data-testid="model-version"
                data-run-id={r.id}
                aria-current={r.id === selected}
                onClick={() => setPicked(r.id)}
                className={`mb-1 block w-full rounded px-2 py-1.5 text-left text-xs ${r.id === selected ? "bg-zinc-800 text-white" : "text-zinc-300 hover:bg-zinc-900"}`}
              >
                <div className="font-medium">{r.modelVersion}</div>
                <div className="text-zinc-500">
                  {r.mode} · {r.preset ?? "custom"} · held-out <Evidence p={r.heldOut} missing={r.heldOutReason} />
                </div>
              </button>
            ))}
          </nav>
          <main className="min-w-0 flex-1 overflow-y-auto p-4">
            <label className="mb-4 flex items-center gap-2 text-xs text-zinc-300">
              Compare with
              <select
                data-testid="model-compare-select"
                value={other ?? ""}
                onChange={(e) => setCompareWith(e.target.value === "" ? null : Number(e.target.value))}
                className="rounded border border-zinc-700 bg-zinc-900 px-1 py-0.5 text-zinc-200"
              >
                <option value="">— none —</option>
                {versions
                  .filter((r) => r.id !== selected)
                  .map((r) => (
                    <option key={r.id} value={r.id}>
                      {r.modelVersion}
                    </option>
                  ))}
              </select>
            </label>
            {error && <p className="text-sm text-red-400">Could not load metrics: {error.message}</p>}
            {other === null ? (
              single.data ? (
                <ModelMetricsPanel metrics={single.data} classesById={classesById} />
              ) : (
                !error && <p className="text-sm text-zinc-400">Loading…</p>
              )
            ) : comparison.data ? (
              <div data-testid="model-compare" className="flex flex-col gap-4">
                <p className="text-xs text-zinc-300" data-testid="model-compare-shared">
                  {comparison.data.shared.n > 0 ? (
                    <>
                      On the {comparison.data.shared.n} held-out human labels neither trained on: {comparison.data.a.run.modelVersion}{" "}
                      <Evidence p={comparison.data.shared.accuracyA} /> vs {comparison.data.b.run.modelVersion} <Evidence p={comparison.data.shared.accuracyB} />
                    </>
                  ) : (
                    "The two versions share no held-out human labels, so their accuracies below are on different images."
                  )}
                </p>
                <div className="flex flex-col gap-8 xl:flex-row">
                  <ModelMetricsPanel metrics={comparison.data.a} classesById={classesById} />
                  <ModelMetricsPanel metrics={comparison.data.b} classesById={classesById} />
                </div>
              </div>
            ) : (
              !error && <p className="text-sm text-zinc-400">Loading…</p>
            )}
          </main>
        </div>
      )}
    </div>
  );
}
