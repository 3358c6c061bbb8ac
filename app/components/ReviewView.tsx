"use client";

import Link from "next/link";
import { useEffect, useMemo, useState } from "react";
import type { ClassDef, ProposalCurvePoint, ProposalSummary } from "@/app/lib/api";
import { useAcceptProposals, useProject, useProposalSummary } from "@/app/lib/hooks";
import { useToast } from "./Toasts";
import { ReviewGrid } from "./ReviewGrid";
import { CalibratedPrecision } from "./CalibratedPrecision";
import { formatProportion, wilsonInterval } from "@/lib/review/evidence";

/** The curve point nearest to a value: the slider moves in steps the summary has precomputed. */
function nearestPoint(curve: ProposalCurvePoint[], value: number): ProposalCurvePoint | undefined {
  let best: ProposalCurvePoint | undefined;
  for (const p of curve) if (!best || Math.abs(p.threshold - value) < Math.abs(best.threshold - value)) best = p;
  return best;
}

/** The grid refetches only once the slider rests, not at every step of a drag. */
function useSettled<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return settled;
}

/** "held-out precision 94% [85–98%] (n=37)", "not enough labels (n=3)", or why there is none (lib/review/evidence.ts). */
function PrecisionText({ point, classId, summary }: { point: ProposalCurvePoint; classId: number; summary: ProposalSummary }) {
  const own = point.byClass[classId];
  if (!own || own.precision === null) {
    const why = summary.precision.reason ?? "no held-out human label of this class reaches this threshold";
    return (
      <span data-testid="review-precision" title={why} className="text-amber-300">
        not enough labels (n=0)
      </span>
    );
  }
  return (
    <span data-testid="review-precision" title="Share of the run's held-out human labels (never trained on) that the model got right at this threshold, with its 95% interval">
      held-out precision {formatProportion({ value: own.precision, n: own.support, interval: wilsonInterval(own.correct, own.support) })}
      {point.precision !== null && (
        <span className="text-zinc-500">
          {" "}
          · all classes {formatProportion({ value: point.precision, n: point.support, interval: point.interval })}
        </span>
      )}
    </span>
  );
}

function ClassTabs({ classes, counts, active, onChange }: { classes: ClassDef[]; counts: Record<string, number>; active: number; onChange: (id: number) => void }) {
  return (
    <nav className="flex gap-1 overflow-x-auto border-b border-zinc-800 px-2 pt-1.5" role="tablist">
      {classes.map((c) => (
        <button
          key={c.id}
          role="tab"
          aria-selected={c.id === active}
          data-testid={`review-class-tab-${c.id}`}
          onClick={(e) => {
            onChange(c.id);
            e.currentTarget.blur(); // keys go to the grid right after a click
          }}
          className={`inline-flex shrink-0 items-center gap-1.5 rounded-t px-2.5 py-1 text-xs ${
            c.id === active ? "bg-zinc-800 text-white" : "text-zinc-400 hover:text-zinc-200"
          }`}
        >
          <span className="h-2 w-2 rounded-sm" style={{ backgroundColor: c.color }} />
          <span className="max-w-32 truncate">{c.name}</span>
          <span className="text-zinc-500 tabular-nums">{(counts[c.id] ?? 0).toLocaleString()}</span>
        </button>
      ))}
    </nav>
  );
}

/** The review page: per class, the latest run's proposals above a threshold, to accept, reject or relabel. */
export function ReviewView({ projectId }: { projectId: number }) {
  const project = useProject(projectId);
  const summary = useProposalSummary(projectId);
  const acceptAll = useAcceptProposals(projectId);
  const toast = useToast();
  const [pickedClass, setPickedClass] = useState<number | null>(null);
  const [pickedThreshold, setPickedThreshold] = useState<number | null>(null);

  const curve = useMemo(() => summary.data?.curve ?? [], [summary.data]);
  const point = nearestPoint(curve, pickedThreshold ?? summary.data?.threshold ?? 0.95);
  const threshold = point?.threshold ?? 0.95;
  const gridThreshold = useSettled(threshold, 200);

  if (project.isPending || summary.isPending) return <p className="p-6 text-sm text-zinc-400">Loading…</p>;
  if (project.error || summary.error) {
    return <p className="p-6 text-sm text-red-400">Could not load: {(project.error ?? summary.error)!.message}</p>;
  }
  const { project: p, classes } = project.data;
  const s = summary.data;
  const back = (
    <Link href={`/projects/${projectId}`} className="text-xs text-sky-400 hover:underline">
      ← Back to labeling
    </Link>
  );
  if (!s.run || !point) {
    return (
      <div className="p-6 text-sm text-zinc-300" data-testid="review-no-run">
        <p className="mb-2">No trained model with predictions yet: train one from the project page, then review its proposals here.</p>
        {back}
      </div>
    );
  }
  const run = s.run;
  // The picked class, or the first class with proposals at this threshold, or the first class.
  const activeClass =
    classes.find((c) => c.id === pickedClass)?.id ?? classes.find((c) => (point.passingByClass[c.id] ?? 0) > 0)?.id ?? classes[0]?.id;
  if (activeClass === undefined) return <div className="p-6 text-sm text-zinc-300">This project has no classes. {back}</div>;
  const passing = point.passingByClass[activeClass] ?? 0;
  const activeName = classes.find((c) => c.id === activeClass)?.name ?? "";

  return (
    <div className="flex min-h-0 flex-1 flex-col">
      <div className="flex shrink-0 flex-wrap items-center gap-x-4 gap-y-1 border-b border-zinc-800 bg-zinc-900/60 px-4 py-2">
        <h1 className="max-w-xs truncate text-sm font-semibold" title={p.name}>
          Review proposals · {p.name}
        </h1>
        <span className="text-xs text-zinc-400" data-testid="review-model">
          model {run.modelVersion}
        </span>
        {back}
      </div>
      <ClassTabs classes={classes} counts={point.passingByClass} active={activeClass} onChange={setPickedClass} />
      <div className="flex shrink-0 flex-wrap items-center gap-x-4 gap-y-1 border-b border-zinc-800 px-3 py-2 text-xs text-zinc-300">
        <label className="flex items-center gap-2">
          <span>Threshold</span>
          <input
            type="range"
            data-testid="review-threshold"
            min={curve[0].threshold}
            max={curve[curve.length - 1].threshold}
            step={0.001}
            value={threshold}
            onChange={(e) => setPickedThreshold(Number(e.target.value))}
            // Arrow keys belong to the grid: the slider gives the focus back once it is released.
            onPointerUp={(e) => e.currentTarget.blur()}
            className="w-56"
          />
          <span className="w-12 tabular-nums">{threshold.toFixed(threshold >= 0.99 ? 3 : 2)}</span>
        </label>
        <span>
          <span data-testid="review-pass-count" className="tabular-nums">
            {passing.toLocaleString()} image{passing === 1 ? "" : "s"} pass
          </span>
          {" · "}
          <PrecisionText point={point} classId={activeClass} summary={s} />
          {" · "}
          <CalibratedPrecision calibrated={s.calibrated} threshold={threshold} classId={activeClass} />
        </span>
        <button
          data-testid="accept-all"
          disabled={passing === 0 || acceptAll.isPending}
          onClick={() =>
            acceptAll.mutate(
              { runId: run.id, classId: activeClass, minConfidence: threshold },
              { onSuccess: (r) => toast(`Accepted ${r.accepted} as ${activeName} · Z undoes`, "info") },
            )
          }
          className="ml-auto rounded bg-emerald-700 px-2.5 py-1 font-medium text-white hover:bg-emerald-600 disabled:opacity-40"
        >
          Accept all {passing.toLocaleString()} above threshold
        </button>
      </div>
      <ReviewGrid
        key={`${run.id}:${activeClass}:${gridThreshold}`}
        projectId={projectId}
        runId={run.id}
        classId={activeClass}
        minConfidence={gridThreshold}
        classes={classes}
      />
    </div>
  );
}
