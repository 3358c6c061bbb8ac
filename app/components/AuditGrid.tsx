"use client";

import { useCallback, useEffect, useMemo, useState } from "react";
import type { ClassDef, ImageItem, Proposal } from "@/app/lib/api";
import { useAnswerAudit, useAuditSample, useUndoLabels } from "@/app/lib/hooks";
import { useGridSelection } from "@/app/lib/use-grid-selection";
import { Grid, type GridTileProps } from "./Grid";
import { isTypingTarget, otherDialogOpen } from "./LabelingGrid";
import { PreviewModal } from "./PreviewModal";
import { ReviewTile, type ProposalDecision } from "./ReviewTile";
import { useToast } from "./Toasts";

interface AuditGridProps {
  projectId: number;
  runId: number;
  /** null: every class, each with its own sample (stratified). */
  classId: number | null;
  /** The threshold the sample is drawn at. */
  floor: number;
  classes: ClassDef[];
  onDone: () => void;
}

/** The whole sample is loaded at once: no pages to fetch as the grid scrolls. */
const ignoreRange = () => {};

const asImageItem = (p: Proposal): ImageItem => ({ id: p.imageId, name: p.name, width: p.width, height: p.height, label: null });

/**
 * "Check a sample": a seeded random sample of one class's proposals at or above the threshold, in
 * the labeling grid. A (or Enter) says the proposal is right, 1-9 give the right class; both are
 * human labels from an audit, and the verdicts make the audited precision that opens accept-all.
 * R has no meaning here: a rejected proposal would leave the sample and bias it. Z undoes.
 */
export function AuditGrid({ projectId, runId, classId, floor, classes, onDone }: AuditGridProps) {
  const [round, setRound] = useState(0);
  const sample = useAuditSample(projectId, runId, classId, floor, round);
  const items = useMemo(() => sample.data?.items ?? [], [sample.data]);
  const total = items.length;
  const [decisions, setDecisions] = useState<ReadonlyMap<number, ProposalDecision>>(new Map());
  const answer = useAnswerAudit(projectId);
  const undo = useUndoLabels(projectId);
  const toast = useToast();

  const classesById = useMemo(() => new Map(classes.map((c) => [c.id, c])), [classes]);
  const classByHotkey = useMemo(() => new Map(classes.filter((c) => c.hotkey).map((c) => [c.hotkey!, c])), [classes]);
  const itemsByIndex = useMemo(() => new Map(items.map((p, i) => [i, asImageItem(p)])), [items]);
  const itemAt = useCallback((i: number) => itemsByIndex.get(i), [itemsByIndex]);
  const indexById = useMemo(() => new Map(items.map((p, i) => [p.imageId, i])), [items]);
  const proposalById = useMemo(() => new Map(items.map((p) => [p.imageId, p])), [items]);

  const { gridRef, setColumns, focusedIndex, focusedItem, selectedIds, previewOpen, setPreviewOpen, moveFocusTo, actOn, handleNavKey, onTilePointerDown, onTilePointerEnter, onTileOpen } =
    useGridSelection({ total, itemAt, indexById });

  const decide = useCallback(
    (decision: ProposalDecision) =>
      actOn((ids) => {
        // A selection answers only the images not answered yet: select-all then A must not overwrite a "wrong" verdict.
        const open = ids.length > 1 ? ids.filter((id) => !decisions.has(id)) : ids;
        if (open.length === 0) return;
        const answers = open.flatMap((imageId) => {
          const p = proposalById.get(imageId);
          if (!p) return [];
          return [{ imageId, classId: decision.kind === "relabeled" ? decision.classId : p.classId }];
        });
        answer.mutate({ runId, floor, answers });
        setDecisions((prev) => {
          const next = new Map(prev);
          for (const a of answers) next.set(a.imageId, a.classId === proposalById.get(a.imageId)?.classId ? { kind: "accepted" } : { kind: "relabeled", classId: a.classId });
          return next;
        });
      }),
    [actOn, decisions, proposalById, answer, runId, floor],
  );

  const undoLast = useCallback(() => {
    undo.mutate(undefined, { onSuccess: () => setRound((r) => r + 1) });
    setDecisions(new Map());
  }, [undo]);

  useEffect(() => {
    function onKeyDown(e: KeyboardEvent) {
      if (isTypingTarget(e.target) || otherDialogOpen() || e.altKey) return;
      if (handleNavKey(e)) return;
      if (e.ctrlKey || e.metaKey) return;
      const key = e.key;
      const lower = key.toLowerCase();
      if (lower === "z" && !e.shiftKey) {
        e.preventDefault();
        undoLast();
      } else if (lower === "a" || key === "Enter") {
        e.preventDefault();
        decide({ kind: "accepted" });
      } else if (lower === "r" || lower === "x") {
        e.preventDefault();
        toast("R is not used in an audit: press A if the proposal is right, or the right class's key", "info");
      } else if (key === " ") {
        e.preventDefault();
        setPreviewOpen((o) => !o && !!focusedItem);
      } else {
        const cls = classByHotkey.get(key);
        if (cls) {
          e.preventDefault();
          decide({ kind: "relabeled", classId: cls.id });
        }
      }
    }
    window.addEventListener("keydown", onKeyDown);
    return () => window.removeEventListener("keydown", onKeyDown);
  }, [focusedItem, setPreviewOpen, classByHotkey, handleNavKey, decide, undoLast, toast]);

  const renderTile = useCallback(
    (props: GridTileProps) => {
      const proposal = items[props.index];
      return <ReviewTile {...props} proposal={proposal} decision={proposal && decisions.get(proposal.imageId)} classesById={classesById} showClass={classId === null} />;
    },
    [items, decisions, classesById, classId],
  );

  const answered = items.filter((p) => decisions.has(p.imageId)).length;
  const right = items.filter((p) => decisions.get(p.imageId)?.kind === "accepted").length;
  const allAnswered = total > 0 && answered === total;

  return (
    <div className="flex min-h-0 flex-1 flex-col" data-testid="audit-panel">
      <div className="flex flex-wrap items-center gap-3 border-b border-amber-900/60 bg-amber-950/30 px-3 py-1.5 text-xs text-amber-100">
        <span className="tabular-nums" data-testid="audit-status">
          {sample.isPending
            ? "Drawing a sample…"
            : total === 0
              ? "Nothing left to check at this threshold"
              : `Checking a random sample: ${answered} of ${total} answered (${right} right)${answer.isPending ? " · saving…" : ""}`}
        </span>
        <span className="hidden truncate lg:inline">A/Enter: the proposal is right · 1-9: the right class · Z undo · Space preview · R is not used</span>
        {allAnswered && (
          <button data-testid="audit-more" onClick={() => (setRound((r) => r + 1), setDecisions(new Map()))} className="rounded border border-amber-700 px-2 py-0.5 hover:bg-amber-900/40">
            Draw more
          </button>
        )}
        <button data-testid="audit-done" onClick={onDone} className="ml-auto rounded border border-zinc-700 px-2 py-0.5 text-zinc-200 hover:bg-zinc-800">
          Done checking
        </button>
      </div>
      {sample.error && <p className="px-3 py-2 text-sm text-red-400">Could not draw a sample: {sample.error.message}</p>}
      <Grid
        ref={gridRef}
        testId="audit-grid"
        total={total}
        itemAt={itemAt}
        classesById={classesById}
        focusedIndex={focusedIndex}
        selectedIds={selectedIds}
        onColumnsChange={setColumns}
        onVisibleRangeChange={ignoreRange}
        onTilePointerDown={onTilePointerDown}
        onTilePointerEnter={onTilePointerEnter}
        onTileOpen={onTileOpen}
        renderTile={renderTile}
      />
      {previewOpen && focusedItem && (
        <PreviewModal item={focusedItem} index={focusedIndex} total={total} classesById={classesById} onClose={() => setPreviewOpen(false)} onMove={(d) => moveFocusTo(focusedIndex + d)} />
      )}
    </div>
  );
}
