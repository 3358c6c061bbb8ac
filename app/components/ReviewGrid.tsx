"use client";

import { useCallback, useEffect, useMemo, useState } from "react";
import { PROPOSAL_PAGE_SIZE, type ClassDef, type ImageItem, type Proposal } from "@/app/lib/api";
import { proposalAt, useAcceptProposals, useProposalPages, useRejectProposals, useRequestedPages, useSetLabels, useUndoLabels } from "@/app/lib/hooks";
import { useGridSelection } from "@/app/lib/use-grid-selection";
import { Grid, type GridTileProps } from "./Grid";
import { isTypingTarget, otherDialogOpen } from "./LabelingGrid";
import { PreviewModal } from "./PreviewModal";
import { ReviewTile, type ProposalDecision } from "./ReviewTile";

interface ReviewGridProps {
  projectId: number;
  runId: number;
  classId: number;
  minConfidence: number;
  classes: ClassDef[];
}

const asImageItem = (p: Proposal): ImageItem => ({ id: p.imageId, name: p.name, width: p.width, height: p.height, label: null });

/**
 * One class's proposals at or above the threshold, most confident first, in the labeling grid with
 * its focus and selection rules. A accepts, R or X rejects, 1-9 labels by hand, Z undoes the last
 * labeling action. Mounted with a key per run, class and threshold, so those start fresh.
 *
 * A decided proposal stays in place, dimmed, until the refetch after the last pending request
 * drops it: removing it at once would shift every tile after it while the user is still pressing keys.
 */
export function ReviewGrid({ projectId, runId, classId, minConfidence, classes }: ReviewGridProps) {
  const { requestedPages, onVisibleRangeChange } = useRequestedPages(PROPOSAL_PAGE_SIZE);
  const { pages, total: loadedTotal, error } = useProposalPages(projectId, runId, classId, minConfidence, requestedPages);
  const total = loadedTotal ?? 0;
  const [decisions, setDecisions] = useState<ReadonlyMap<number, ProposalDecision>>(new Map());
  const accept = useAcceptProposals(projectId);
  const reject = useRejectProposals(projectId);
  const setLabels = useSetLabels(projectId);
  const undo = useUndoLabels(projectId);

  const classesById = useMemo(() => new Map(classes.map((c) => [c.id, c])), [classes]);
  const classByHotkey = useMemo(() => new Map(classes.filter((c) => c.hotkey).map((c) => [c.hotkey!, c])), [classes]);

  const proposalAtIndex = useCallback((i: number) => proposalAt(pages, i), [pages]);
  // The grid speaks ImageItem; converted once per page load, not per render.
  const itemsByIndex = useMemo(() => {
    const m = new Map<number, ImageItem>();
    for (const [p, page] of pages) page.items.forEach((it, i) => m.set(p * PROPOSAL_PAGE_SIZE + i, asImageItem(it)));
    return m;
  }, [pages]);
  const itemAt = useCallback((i: number) => itemsByIndex.get(i), [itemsByIndex]);
  const indexById = useMemo(() => {
    const m = new Map<number, number>();
    for (const [i, it] of itemsByIndex) m.set(it.id, i);
    return m;
  }, [itemsByIndex]);

  const {
    gridRef,
    setColumns,
    focusedIndex,
    focusedItem,
    selectedIds,
    previewOpen,
    setPreviewOpen,
    moveFocusTo,
    actOn,
    handleNavKey,
    onTilePointerDown,
    onTilePointerEnter,
    onTileOpen,
  } = useGridSelection({ total, itemAt, indexById });

  /** Applies a decision to the selection (or the focused image), then moves on past it. */
  const decide = useCallback(
    (decision: ProposalDecision) =>
      actOn((ids) => {
        if (decision.kind === "accepted") accept.mutate({ runId, imageIds: ids });
        else if (decision.kind === "rejected") reject.mutate({ runId, imageIds: ids });
        else setLabels.mutate({ imageIds: ids, classId: decision.classId });
        setDecisions((prev) => {
          const next = new Map(prev);
          for (const id of ids) next.set(id, decision);
          return next;
        });
      }),
    [actOn, runId, accept, reject, setLabels],
  );

  const undoLast = useCallback(() => {
    // An undone accept or label brings its images back; their badges must go.
    undo.mutate(undefined, { onSuccess: () => setDecisions(new Map()) });
  }, [undo]);

  useEffect(() => {
    function onKeyDown(e: KeyboardEvent) {
      if (isTypingTarget(e.target) || otherDialogOpen() || e.altKey) return;
      if (handleNavKey(e)) return;
      const key = e.key;
      if (e.ctrlKey || e.metaKey) return; // leave the browser's other shortcuts alone
      const lower = key.toLowerCase();
      if (lower === "z" && !e.shiftKey) {
        e.preventDefault();
        undoLast();
      } else if (lower === "a" || key === "Enter") {
        e.preventDefault();
        decide({ kind: "accepted" });
      } else if (lower === "r" || lower === "x") {
        e.preventDefault();
        decide({ kind: "rejected" });
      } else if (key === " ") {
        e.preventDefault();
        setPreviewOpen((open) => !open && !!focusedItem);
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
  }, [focusedItem, setPreviewOpen, classByHotkey, handleNavKey, decide, undoLast]);

  const renderTile = useCallback(
    (props: GridTileProps) => {
      const proposal = proposalAtIndex(props.index);
      return <ReviewTile {...props} proposal={proposal} decision={proposal && decisions.get(proposal.imageId)} classesById={classesById} />;
    },
    [proposalAtIndex, decisions, classesById],
  );

  const busy = accept.isPending || reject.isPending || setLabels.isPending || undo.isPending;

  return (
    <div className="flex min-h-0 flex-1 flex-col">
      <div className="flex items-center gap-3 border-b border-zinc-800 px-3 py-1.5 text-xs text-zinc-400">
        <span className="tabular-nums" data-testid="review-status">
          {loadedTotal === null ? "Loading…" : `${total.toLocaleString()} proposals`}
          {selectedIds.size > 0 && ` · ${selectedIds.size} selected`}
          {busy && " · saving…"}
        </span>
        <span className="hidden truncate lg:inline">
          ←↑→↓ move · Shift/Ctrl select · A/Enter accept · R/X reject · 1-9 label as · Z undo · Space preview
        </span>
        <button
          data-testid="review-undo"
          onClick={undoLast}
          disabled={undo.isPending}
          className="ml-auto rounded border border-zinc-700 px-2 py-0.5 text-zinc-200 hover:bg-zinc-800 disabled:opacity-50"
          title="Undo the last labeling action, an accept included (Z)"
        >
          Undo
        </button>
      </div>
      {error && <p className="px-3 py-2 text-sm text-red-400">Could not load proposals: {error.message}</p>}
      {loadedTotal === 0 && (
        <p className="px-3 py-6 text-sm text-zinc-400" data-testid="review-empty">
          No proposals for this class at this threshold.
        </p>
      )}
      <Grid
        ref={gridRef}
        testId="review-grid"
        total={total}
        itemAt={itemAt}
        classesById={classesById}
        focusedIndex={focusedIndex}
        selectedIds={selectedIds}
        onColumnsChange={setColumns}
        onVisibleRangeChange={onVisibleRangeChange}
        onTilePointerDown={onTilePointerDown}
        onTilePointerEnter={onTilePointerEnter}
        onTileOpen={onTileOpen}
        renderTile={renderTile}
      />
      {previewOpen && focusedItem && (
        <PreviewModal
          item={focusedItem}
          index={focusedIndex}
          total={total}
          classesById={classesById}
          onClose={() => setPreviewOpen(false)}
          onMove={(d) => moveFocusTo(focusedIndex + d)}
        />
      )}
    </div>
  );
}
