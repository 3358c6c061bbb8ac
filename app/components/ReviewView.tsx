"use client";

import Link from "next/link";
import { useEffect, useMemo, useState } from "react";
import type { AuditGate, ClassDef, ProposalCurvePoint, ProposalSummary } from "@/app/lib/api";
import { useAcceptProposals, useProject, useProposalSummary, useSetTargetPrecision } from "@/app/lib/hooks";
import { gateFor, type Gate } from "@/lib/review/audit";
import { AuditGrid } from "./AuditGrid";
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

const percent = (x: number) => `${Math.round(100 * x)}%`;
const range = (i: [number, number]) => `[${Math.round(100 * i[0])}-${percent(i[1])}]`;

/** "audited precision 97% [90-99%] (n=73 checked)": what a person found in a random sample above this threshold. */
function AuditText({ gate }: { gate: Gate }) {
  if (gate.n === 0) {
    return (
      <span data-testid="audit-precision" className="text-amber-300">
        not audited at this threshold
      </span>
    );
  }
  return (
    <span data-testid="audit-precision" title="Share of a random sample of these proposals that a person found right, with its 95% Wilson interval">
      audited precision {percent(gate.precision!)} {range(gate.interval!)} (n={gate.n} checked)
    </span>
  );
}

/** The project's target precision, editable here (it is a project setting: PATCH /api/projects/:id). */
function TargetInput({ projectId, target }: { projectId: number; target: number }) {
  const setTarget = useSetTargetPrecision(projectId);
  const [draft, setDraft] = useState<string | null>(null);
  const commit = () => {
    if (draft === null) return;
    const value = Number(draft) / 100;
    setDraft(null);
    if (Number.isFinite(value) && value !== target) setTarget.mutate(value);
  };
  return (
    <label className="flex items-center gap-1" title="Accept all opens when the audited precision's 95% lower bound reaches this">
      <span>target</span>
      <input
        data-testid="target-precision"
        type="number"
        min={50}
        max={99.9}
        step={0.5}
        value={draft ?? String(Math.round(target * 1000) / 10)}
        onChange={(e) => setDraft(e.target.value)}
        onBlur={commit}
        onKeyDown={(e) => {
          if (e.key === "Enter") e.currentTarget.blur();
        }}
        className="w-14 rounded border border-zinc-700 bg-zinc-900 px-1 py-0.5 tabular-nums"
      />
      <span>%</span>
    </label>
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
  /** The threshold an audit sample is being drawn at, while the audit grid is shown. */
  const [audit, setAudit] = useState<{ floor: number; allClasses: boolean } | null>(null);
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
  // The same gate the server enforces (lib/review/audit.ts), recomputed as the slider moves.
  const classAnswers = s.audit.answers.filter((a) => a.classId === activeClass);
  const gate = gateFor(classAnswers, threshold, s.audit.target, classAnswers.length === 0 ? s.audit.staleModelVersion : null);
  const classThreshold: AuditGate | null = s.audit.classThresholds[activeClass] ?? null;
  const sliderMin = curve[0].threshold;
  const sliderMax = curve[curve.length - 1].threshold;
  // Every class at its own audited threshold: what "Accept audited classes" takes.
  const perClassCount = classes.reduce((sum, c) => {
    const t = s.audit.classThresholds[c.id];
    return t ? sum + (nearestPoint(curve, t.threshold)?.passingByClass[c.id] ?? 0) : sum;
  }, 0);
  const accepted = (r: { accepted: number }) => toast(`Accepted ${r.accepted} as ${activeName} · Z undoes`, "info");

  return (
    <div className="flex min-h-0 flex-1 flex-col">
      <div className="flex shrink-0 flex-wrap items-center gap-x-4 gap-y-1 border-b border-zinc-800 bg-zinc-900/60 px-4 py-2">
        <h1 className="max-w-xs truncate text-sm font-semibold" title={p.name}>
          Review proposals · {p.name}
        </h1>
        <span className="text-xs text-zinc-400" data-testid="review-model" title="The model whose proposals these are">
          model {run.modelVersion} · proposed by {run.madeBy}
        </span>
        {back}
      </div>
      <ClassTabs classes={classes} counts={point.passingByClass} active={activeClass} onChange={setPickedClass} />
      <div className="flex shrink-0 flex-wrap items-center gap-x-4 gap-y-1 border-b border-zinc-800 px-3 py-2 text-xs text-zinc-300">
        <label className="flex items-center gap-2">
          <span>Threshold</span>
          <span className="relative inline-flex w-56">
            <input
              type="range"
              data-testid="review-threshold"
              min={sliderMin}
              max={sliderMax}
              step={0.001}
              value={threshold}
              onChange={(e) => setPickedThreshold(Number(e.target.value))}
              // Arrow keys belong to the grid: the slider gives the focus back once it is released.
              onPointerUp={(e) => e.currentTarget.blur()}
              className="w-56"
            />
            {classThreshold && (
              // The class's audited threshold: the lowest whose audited lower bound meets the target.
              <span
                data-testid="class-threshold-marker"
                data-threshold={classThreshold.threshold}
                title={`lowest threshold whose audit shows ${percent(s.audit.target)}: ${classThreshold.threshold.toFixed(2)}`}
                className="pointer-events-none absolute -bottom-1 h-2 w-0.5 bg-emerald-400"
                style={{ left: `${(100 * (classThreshold.threshold - sliderMin)) / (sliderMax - sliderMin)}%` }}
              />
            )}
          </span>
          <span className="w-12 tabular-nums">{threshold.toFixed(threshold >= 0.99 ? 3 : 2)}</span>
        </label>
        <span>
          <span data-testid="review-pass-count" className="tabular-nums">
            {passing.toLocaleString()} image{passing === 1 ? "" : "s"} pass
          </span>
          {" · "}
          <PrecisionText point={point} classId={activeClass} summary={s} />
          {" · "}
          <AuditText gate={gate} />
          {" · "}
          <CalibratedPrecision calibrated={s.calibrated} threshold={threshold} classId={activeClass} />
        </span>
        {classThreshold && (
          <span data-testid="class-threshold" className="text-emerald-300">
            audited threshold for {activeName}: {classThreshold.threshold.toFixed(classThreshold.threshold >= 0.99 ? 3 : 2)}
          </span>
        )}
        <TargetInput projectId={projectId} target={s.audit.target} />
        <button
          data-testid="audit-start"
          disabled={passing === 0 || audit !== null}
          onClick={() => setAudit({ floor: threshold, allClasses: false })}
          title={`A random sample of ${activeName}'s proposals above this threshold, for you to check: ${gate.required} answers can show ${percent(s.audit.target)}`}
          className="rounded border border-amber-600 px-2.5 py-1 text-amber-200 hover:bg-amber-900/40 disabled:opacity-40"
        >
          Check a sample
        </button>
        <button
          data-testid="audit-start-all"
          disabled={point.passing === 0 || audit !== null}
          onClick={() => setAudit({ floor: threshold, allClasses: true })}
          title="The same for every class at once: each class gets its own random sample"
          className="rounded border border-amber-800 px-2 py-1 text-amber-300 hover:bg-amber-900/40 disabled:opacity-40"
        >
          all classes
        </button>
        <span className="ml-auto flex items-center gap-2">
          <button
            data-testid="accept-all"
            disabled={passing === 0 || !gate.open || acceptAll.isPending}
            title={gate.open ? undefined : (gate.message ?? undefined)}
            onClick={() => acceptAll.mutate({ runId: run.id, classId: activeClass, minConfidence: threshold }, { onSuccess: accepted })}
            className="rounded bg-emerald-700 px-2.5 py-1 font-medium text-white hover:bg-emerald-600 disabled:opacity-40"
          >
            {gate.open || passing === 0 ? `Accept all ${passing.toLocaleString()} above threshold` : `Accept all: ${gate.message}`}
          </button>
          {!gate.open && passing > 0 && (
            <button
              data-testid="accept-all-override"
              disabled={acceptAll.isPending}
              onClick={() => {
                const ok = window.confirm(
                  `Accept all ${passing} ${activeName} proposals above ${threshold.toFixed(2)} without an audit that shows ${percent(s.audit.target)}?\n\n` +
                    `${gate.message}.\nThese labels will be marked "override" in their history and in the export manifest.`,
                );
                if (ok) acceptAll.mutate({ runId: run.id, classId: activeClass, minConfidence: threshold, override: true }, { onSuccess: accepted });
              }}
              className="rounded border border-red-800 px-2 py-1 text-red-300 hover:bg-red-950/40 disabled:opacity-40"
            >
              Accept anyway…
            </button>
          )}
          {perClassCount > 0 && (
            <button
              data-testid="accept-per-class"
              disabled={acceptAll.isPending}
              title="Every class whose audit passed, each at its own audited threshold"
              onClick={() => acceptAll.mutate({ runId: run.id, perClass: true }, { onSuccess: (r) => toast(`Accepted ${r.accepted} in audited classes · Z undoes`, "info") })}
              className="rounded bg-emerald-800 px-2.5 py-1 font-medium text-white hover:bg-emerald-700 disabled:opacity-40"
            >
              Accept audited classes ({perClassCount.toLocaleString()})
            </button>
          )}
        </span>
      </div>
      {audit !== null ? (
        <AuditGrid
          key={`audit:${run.id}:${audit.allClasses ? "all" : activeClass}:${audit.floor}`}
          projectId={projectId}
          runId={run.id}
          classId={audit.allClasses ? null : activeClass}
          floor={audit.floor}
          classes={classes}
          onDone={() => setAudit(null)}
        />
      ) : (
        <ReviewGrid
          key={`${run.id}:${activeClass}:${gridThreshold}`}
          projectId={projectId}
          runId={run.id}
          classId={activeClass}
          minConfidence={gridThreshold}
          classes={classes}
        />
      )}
    </div>
  );
}
