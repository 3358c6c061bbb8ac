"use client";

import Link from "next/link";
import { useCallback, useMemo, useRef, useState } from "react";
import type { ClassDef, ImageItem, SuspiciousItem } from "@/app/lib/api";
import { useKeepSuspicious, useProject, useSetLabels, useSuspiciousLabels, useUndoLabels } from "@/app/lib/hooks";
import type { GridTileProps } from "./Grid";
import { DecisionBadge, ListTileFrame, PickListGrid, type ListDecision } from "./NextGrid";

const asImageItem = (s: SuspiciousItem): ImageItem => ({ id: s.imageId, name: s.name, width: s.width, height: s.height, label: { classId: s.labelClassId, source: s.labelSource } });
const imageIdOf = (s: SuspiciousItem) => s.imageId;
const pct = (x: number) => `${Math.round(100 * x)}%`;
const SOURCE_NAMES = { human: "by hand", accepted_proposal: "accepted proposal", imported: "imported" } as const;

/** "labeled cat · model says dog 97%", framed in the label's colour. */
function SuspiciousTile({ props, item, decision, classesById }: { props: GridTileProps; item: SuspiciousItem | undefined; decision: ListDecision | undefined; classesById: Map<number, ClassDef> }) {
  if (!item) return <div className="shrink-0 rounded bg-zinc-900" style={{ width: props.size, height: props.size }} />;
  const label = classesById.get(item.labelClassId);
  const suggested = classesById.get(item.suggestedClassId);
  const text = `labeled ${label?.name ?? "?"} · model says ${suggested?.name ?? "?"} ${pct(item.confidence)}`;
  return (
    <ListTileFrame
      props={props}
      imageId={item.imageId}
      name={`${item.name} · ${text} (threshold ${pct(item.threshold)}; label ${SOURCE_NAMES[item.labelSource]})`}
      testId="suspicious-tile"
      decided={!!decision}
      borderColor={label?.color}
      data={{ confidence: item.confidence, "label-class-id": item.labelClassId, "suggested-class-id": item.suggestedClassId, decision: decision?.kind }}
    >
      {!decision && (
        <span data-testid="suspicious-text" className="pointer-events-none absolute right-1 bottom-1 left-1 rounded bg-black/75 px-1 py-px text-[10px] leading-tight text-zinc-100">
          labeled <b style={{ color: label?.color }}>{label?.name ?? "?"}</b> · model says <b style={{ color: suggested?.color }}>{suggested?.name ?? "?"}</b>{" "}
          {pct(item.confidence)}
        </span>
      )}
      {item.labelSource !== "human" && (
        <span className="pointer-events-none absolute top-1 right-1 rounded bg-black/60 px-1 text-[9px] text-zinc-300">{item.labelSource === "imported" ? "imp" : "auto"}</span>
      )}
      <DecisionBadge decision={decision} classes={classesById} />
    </ListTileFrame>
  );
}

type UndoStep = { kind: "keep"; runId: number; imageIds: number[] } | { kind: "label" };

/**
 * Suspicious labels: labels the latest model confidently contradicts (lib/review/suspicious.ts),
 * most confident first. 1-9 relabel, K keeps the label (this model version stops flagging it),
 * Z undoes the last of these. Decided tiles stay dimmed until the refetch that follows the last
 * pending save drops them.
 */
export function SuspiciousView({ projectId }: { projectId: number }) {
  const project = useProject(projectId);
  const [withImported, setWithImported] = useState(false);
  const sources = withImported ? "human,accepted_proposal,imported" : "human,accepted_proposal";
  const page = useSuspiciousLabels(projectId, sources);
  const setLabels = useSetLabels(projectId);
  const undoLabels = useUndoLabels(projectId);
  const keep = useKeepSuspicious(projectId);
  const [decisions, setDecisions] = useState<ReadonlyMap<number, ListDecision>>(new Map());
  // What Z reverts: a keep is undone here, a label by the labels API (which knows nothing of keeps).
  const undoStack = useRef<UndoStep[]>([]);

  const classes = useMemo(() => project.data?.classes ?? [], [project.data]);
  const classesById = useMemo(() => new Map(classes.map((c) => [c.id, c])), [classes]);
  const items = useMemo(() => page.data?.items ?? [], [page.data]);
  const runId = page.data?.run?.id ?? null;

  const decide = useCallback((imageIds: number[], decision: ListDecision) => {
    setDecisions((prev) => new Map([...prev, ...imageIds.map((id) => [id, decision] as const)]));
  }, []);
  const onLabel = useCallback(
    (imageIds: number[], classId: number) => {
      setLabels.mutate({ imageIds, classId });
      undoStack.current.push({ kind: "label" });
      decide(imageIds, { kind: "labeled", classId });
    },
    [setLabels, decide],
  );
  const onKeep = useCallback(
    (imageIds: number[]) => {
      if (runId === null) return;
      keep.mutate({ runId, imageIds });
      undoStack.current.push({ kind: "keep", runId, imageIds });
      decide(imageIds, { kind: "kept" });
    },
    [keep, runId, decide],
  );
  const onUndo = useCallback(() => {
    const step = undoStack.current.pop();
    if (step?.kind === "keep") {
      keep.mutate({ runId: step.runId, imageIds: step.imageIds, undo: true });
      setDecisions((prev) => new Map([...prev].filter(([id]) => !step.imageIds.includes(id))));
    } else {
      undoLabels.mutate(undefined, { onSuccess: () => setDecisions((prev) => new Map([...prev].filter(([, d]) => d.kind === "kept"))) });
    }
  }, [keep, undoLabels]);
  const renderTile = useCallback(
    (props: GridTileProps, item: SuspiciousItem | undefined, decision: ListDecision | undefined) => (
      <SuspiciousTile props={props} item={item} decision={decision} classesById={classesById} />
    ),
    [classesById],
  );

  if (project.isPending || page.isPending) return <p className="p-6 text-sm text-zinc-400">Loading…</p>;
  if (project.error || page.error) return <p className="p-6 text-sm text-red-400">Could not load: {(project.error ?? page.error)!.message}</p>;
  const data = page.data;
  const back = (
    <Link href={`/projects/${projectId}`} className="text-xs text-sky-400 hover:underline">
      ← Back to labeling
    </Link>
  );
  if (!data.run) {
    return (
      <div className="p-6 text-sm text-zinc-300" data-testid="suspicious-no-run">
        <p className="mb-2">No trained model with predictions yet: train one from the project page, then check the labels it disagrees with here.</p>
        {back}
      </div>
    );
  }
  const saving = setLabels.isPending || undoLabels.isPending || keep.isPending;

  return (
    <div className="flex min-h-0 flex-1 flex-col">
      <div className="flex shrink-0 flex-wrap items-center gap-x-4 gap-y-1 border-b border-zinc-800 bg-zinc-900/60 px-4 py-2">
        <h1 className="max-w-xs truncate text-sm font-semibold">Suspicious labels · {project.data.project.name}</h1>
        <span className="text-xs text-zinc-400" data-testid="suspicious-model">
          model {data.run.modelVersion}
        </span>
        {back}
      </div>
      <div className="flex shrink-0 flex-wrap items-center gap-x-4 gap-y-1 border-b border-zinc-800 px-3 py-1.5 text-xs text-zinc-400">
        <span data-testid="suspicious-status" className="tabular-nums">
          {data.total.toLocaleString()} label{data.total === 1 ? "" : "s"} the model contradicts with at least its usual confidence for that class
          {saving && " · saving…"}
        </span>
        <label className="flex items-center gap-1">
          <input
            type="checkbox"
            checked={withImported}
            onChange={(e) => {
              setWithImported(e.target.checked);
              e.currentTarget.blur();
            }}
          />
          include imported labels
        </label>
        <span className="hidden lg:inline">←↑→↓ move · 1-9 relabel · K keep · Z undo · Space preview</span>
      </div>
      <div className="flex shrink-0 flex-wrap items-center gap-x-3 gap-y-1 border-b border-zinc-800 px-3 py-1.5 text-xs">
        <span data-testid="suspicious-method" className={data.method.outOfFold ? "text-zinc-400" : "text-amber-300"} title={data.method.description}>
          {data.method.outOfFold ? "judged out of fold (no judge trained on the label it judges)" : "judged in-sample by the run that trained on these labels: retrain to judge out of fold"}
        </span>
        <span className="text-zinc-500">accepted proposals under suspicion:</span>
        {classes
          .filter((c) => data.acceptedByClass[c.id]?.accepted)
          .map((c) => {
            const a = data.acceptedByClass[c.id];
            return (
              <span key={c.id} data-testid="suspicious-accepted-class" data-class-id={c.id} className="tabular-nums">
                <span className="mr-1 inline-block h-2 w-2 rounded-sm" style={{ backgroundColor: c.color }} />
                {c.name} {a.suspicious} of {a.accepted}
              </span>
            );
          })}
        {!classes.some((c) => data.acceptedByClass[c.id]?.accepted) && <span className="text-zinc-500">none accepted yet</span>}
      </div>
      {data.total === 0 && (
        <p className="px-3 py-6 text-sm text-zinc-400" data-testid="suspicious-empty">
          The model does not confidently contradict any of these labels.
        </p>
      )}
      <PickListGrid
        items={items}
        imageIdOf={imageIdOf}
        toImageItem={asImageItem}
        classes={classes}
        decisions={decisions}
        onLabel={onLabel}
        onKeep={onKeep}
        onUndo={onUndo}
        renderTile={renderTile}
        testId="suspicious-grid"
      />
    </div>
  );
}
