"use client";

import Link from "next/link";
import { useCallback, useEffect, useMemo, useState } from "react";
import type { ClassDef, ImageItem, NextPick, UncertaintyMeasure } from "@/app/lib/api";
import { useNextPicks, useProject, useSetLabels, useUndoLabels } from "@/app/lib/hooks";
import type { GridTileProps } from "./Grid";
import { DecisionBadge, ListTileFrame, PickListGrid, type ListDecision } from "./NextGrid";

const asImageItem = (p: NextPick): ImageItem => ({ id: p.imageId, name: p.name, width: p.width, height: p.height, label: null });
const imageIdOf = (p: NextPick) => p.imageId;
const pct = (x: number) => `${Math.round(100 * x)}%`;

/** A pick with how unsure the model is and what it hesitates between. */
function NextTile({ props, pick, decision, classesById }: { props: GridTileProps; pick: NextPick | undefined; decision: ListDecision | undefined; classesById: Map<number, ClassDef> }) {
  if (!pick) return <div className="shrink-0 rounded bg-zinc-900" style={{ width: props.size, height: props.size }} />;
  const top = classesById.get(pick.topClassId)?.name ?? "?";
  const second = pick.runnerUpClassId === null ? null : (classesById.get(pick.runnerUpClassId)?.name ?? "?");
  return (
    <ListTileFrame
      props={props}
      imageId={pick.imageId}
      name={`${pick.name} · ${top} ${pct(pick.confidence)}${second ? ` / ${second} ${pct(pick.runnerUpConfidence!)}` : ""}`}
      testId="next-tile"
      decided={!!decision}
      data={{ uncertainty: pick.uncertainty, rank: pick.rank, decision: decision?.kind }}
    >
      <span className="pointer-events-none absolute top-1 left-1 rounded bg-black/70 px-1 text-[10px] text-zinc-400 tabular-nums">#{pick.rank}</span>
      <span
        className="pointer-events-none absolute top-1 right-1 rounded bg-amber-700/80 px-1 text-[10px] text-white tabular-nums"
        data-testid="next-uncertainty"
        title="Uncertainty: 1 − (p1 − p2) for margin, normalised entropy otherwise"
      >
        {pct(pick.uncertainty)}
      </span>
      {!decision && (
        <span className="pointer-events-none absolute right-1 bottom-1 left-1 truncate rounded bg-black/70 px-1 text-[10px] text-zinc-200">
          {top} {pct(pick.confidence)}
          {second && ` · ${second} ${pct(pick.runnerUpConfidence!)}`}
        </span>
      )}
      <DecisionBadge decision={decision} classes={classesById} />
    </ListTileFrame>
  );
}

/**
 * "Label next": the unlabeled images the latest model is least sure about, spread out so the list
 * is not a row of near-copies (lib/review/next.ts). 1-9 label with the class keys, Z undoes.
 * Labeled picks stay, dimmed, until the list is refreshed (the button, or by itself once every
 * pick is done): refreshing after each key would reshuffle the list under the user's fingers.
 */
export function NextView({ projectId }: { projectId: number }) {
  const project = useProject(projectId);
  const [measure, setMeasure] = useState<UncertaintyMeasure>("margin");
  const picks = useNextPicks(projectId, measure);
  const setLabels = useSetLabels(projectId);
  const undo = useUndoLabels(projectId);
  const [decisions, setDecisions] = useState<ReadonlyMap<number, ListDecision>>(new Map());

  const classes = useMemo(() => project.data?.classes ?? [], [project.data]);
  const classesById = useMemo(() => new Map(classes.map((c) => [c.id, c])), [classes]);
  const items = useMemo(() => picks.data?.items ?? [], [picks.data]);

  // A new list starts with no decisions.
  const [listFor, setListFor] = useState(picks.data);
  if (listFor !== picks.data) {
    setListFor(picks.data);
    setDecisions(new Map());
  }

  const onLabel = useCallback(
    (imageIds: number[], classId: number) => {
      setLabels.mutate({ imageIds, classId });
      setDecisions((prev) => new Map([...prev, ...imageIds.map((id) => [id, { kind: "labeled", classId }] as const)]));
    },
    [setLabels],
  );
  const onUndo = useCallback(() => undo.mutate(undefined, { onSuccess: () => setDecisions(new Map()) }), [undo]);
  const renderTile = useCallback(
    (props: GridTileProps, pick: NextPick | undefined, decision: ListDecision | undefined) => <NextTile props={props} pick={pick} decision={decision} classesById={classesById} />,
    [classesById],
  );

  const allDone = items.length > 0 && items.every((p) => decisions.has(p.imageId));
  const { refetch } = picks;
  const saving = setLabels.isPending || undo.isPending;
  useEffect(() => {
    // Once every pick is labeled and saved, the next batch comes by itself.
    if (allDone && !saving) void refetch();
  }, [allDone, saving, refetch]);

  if (project.isPending || picks.isPending) return <p className="p-6 text-sm text-zinc-400">Loading…</p>;
  if (project.error || picks.error) return <p className="p-6 text-sm text-red-400">Could not load: {(project.error ?? picks.error)!.message}</p>;
  const data = picks.data;
  const back = (
    <Link href={`/projects/${projectId}`} className="text-xs text-sky-400 hover:underline">
      ← Back to labeling
    </Link>
  );
  if (!data.run) {
    return (
      <div className="p-6 text-sm text-zinc-300" data-testid="next-no-run">
        <p className="mb-2">No trained model with predictions yet: train one from the project page, then label what it is least sure about here.</p>
        {back}
      </div>
    );
  }

  return (
    <div className="flex min-h-0 flex-1 flex-col">
      <div className="flex shrink-0 flex-wrap items-center gap-x-4 gap-y-1 border-b border-zinc-800 bg-zinc-900/60 px-4 py-2">
        <h1 className="max-w-xs truncate text-sm font-semibold">Label next · {project.data.project.name}</h1>
        <span className="text-xs text-zinc-400" data-testid="next-model">
          model {data.run.modelVersion}
        </span>
        {back}
      </div>
      <div className="flex shrink-0 flex-wrap items-center gap-x-4 gap-y-1 border-b border-zinc-800 px-3 py-1.5 text-xs text-zinc-400">
        <label className="flex items-center gap-1.5">
          Uncertainty
          <select
            value={measure}
            onChange={(e) => {
              setMeasure(e.target.value as UncertaintyMeasure);
              e.currentTarget.blur(); // keys go back to the grid
            }}
            className="rounded border border-zinc-700 bg-zinc-900 px-1 py-0.5 text-zinc-200"
          >
            <option value="margin">margin (p1 − p2)</option>
            <option value="entropy">entropy</option>
          </select>
        </label>
        <span data-testid="next-status" className="tabular-nums">
          {items.length} picks from the {data.pool.toLocaleString()} most uncertain of {data.unlabeled.toLocaleString()} unlabeled · spread by{" "}
          {data.diversity === "embeddings" ? "image features" : "predicted probabilities (this run has no features)"}
          {saving && " · saving…"}
        </span>
        <span data-testid="next-legend" className="flex items-center gap-1.5">
          <span className="rounded bg-amber-700/80 px-1 text-[10px] text-white tabular-nums">%</span>
          {measure === "margin" ? "uncertainty: 100% = the top two classes tie, 0% = sure" : "uncertainty: entropy of the probabilities, 100% = all classes equal"} · below: the model&apos;s top two classes
          and their probabilities
        </span>
        <span className="hidden lg:inline">←↑→↓ move · 1-9 label · Z undo · Space preview</span>
        <button
          data-testid="next-refresh"
          onClick={(e) => {
            void picks.refetch();
            e.currentTarget.blur();
          }}
          disabled={picks.isFetching}
          className="ml-auto rounded border border-zinc-700 px-2 py-0.5 text-zinc-200 hover:bg-zinc-800 disabled:opacity-50"
          title="Drop the labeled picks and pick again"
        >
          {picks.isFetching ? "Picking…" : "New picks"}
        </button>
      </div>
      {items.length === 0 && (
        <p className="px-3 py-6 text-sm text-zinc-400" data-testid="next-empty">
          Nothing left to pick: every image the model predicted has a label.
        </p>
      )}
      <PickListGrid
        items={items}
        imageIdOf={imageIdOf}
        toImageItem={asImageItem}
        classes={classes}
        decisions={decisions}
        onLabel={onLabel}
        onUndo={onUndo}
        renderTile={renderTile}
        testId="next-grid"
      />
    </div>
  );
}
