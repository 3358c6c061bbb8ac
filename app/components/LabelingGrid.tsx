"use client";

import { useCallback, useEffect, useMemo, useState } from "react";
import { IMAGE_PAGE_SIZE, type ClassDef, type ImageFilter } from "@/app/lib/api";
import { itemAt as pageItemAt, useImagePages, useRequestedPages, useSetLabels, useUndoLabels } from "@/app/lib/hooks";
import { useGridSelection } from "@/app/lib/use-grid-selection";
import { Grid } from "./Grid";
import { PreviewModal } from "./PreviewModal";

interface LabelingGridProps {
  projectId: number;
  filter: ImageFilter;
  classes: ClassDef[];
}

/** Keys typed into form fields, selects or buttons with focus must not label images. */
export function isTypingTarget(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag === "INPUT") {
    const type = (target as HTMLInputElement).type;
    return !["checkbox", "radio", "button", "submit", "reset", "file", "color", "range"].includes(type);
  }
  return false;
}

/** Another modal (class deletion dialog, etc.) owns the keyboard while it is open. */
export const otherDialogOpen = () => document.querySelector('[data-modal="true"]') !== null;

/**
 * The labeling surface: data paging, focus, selection, keyboard and mouse. Mounted with a key per
 * filter, so switching the filter starts with fresh focus and selection.
 *
 * Focus is remembered by image id as well as index (useGridSelection): in the Unlabeled filter a
 * labeled image drops out at the next refetch and everything after it shifts up, and the focus
 * should stay on the same image rather than jump.
 */
export function LabelingGrid({ projectId, filter, classes }: LabelingGridProps) {
  const { requestedPages, onVisibleRangeChange } = useRequestedPages(IMAGE_PAGE_SIZE);
  const { pages, total: loadedTotal, error } = useImagePages(projectId, filter, requestedPages);
  const total = loadedTotal ?? 0;
  const setLabels = useSetLabels(projectId);
  const undo = useUndoLabels(projectId);

  const classesById = useMemo(() => new Map(classes.map((c) => [c.id, c])), [classes]);
  const classByHotkey = useMemo(() => new Map(classes.filter((c) => c.hotkey).map((c) => [c.hotkey!, c])), [classes]);

  const itemAt = useCallback((i: number) => pageItemAt(pages, i), [pages]);
  const indexById = useMemo(() => {
    const m = new Map<number, number>();
    for (const [p, page] of pages) page.items.forEach((it, i) => m.set(it.id, p * IMAGE_PAGE_SIZE + i));
    return m;
  }, [pages]);

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

  // Pages past the end (after the list shrank) simply come back empty, so they need no pruning.

  // Labeling a selection ends it; focus goes on after the last labeled image.
  const applyLabel = useCallback((classId: number | null) => actOn((imageIds) => setLabels.mutate({ imageIds, classId })), [actOn, setLabels]);

  useEffect(() => {
    function onKeyDown(e: KeyboardEvent) {
      if (isTypingTarget(e.target) || otherDialogOpen() || e.altKey) return;
      if (handleNavKey(e)) return;
      const mod = e.ctrlKey || e.metaKey;
      const key = e.key;
      if (key.toLowerCase() === "z" && !e.shiftKey) {
        e.preventDefault();
        undo.mutate();
        return;
      }
      if (mod) return; // leave the browser's other shortcuts alone
      if (key === " ") {
        e.preventDefault();
        if (previewOpen) setPreviewOpen(false);
        else if (focusedItem) setPreviewOpen(true);
        return;
      }
      if (key === "0" || key === "Backspace" || key === "Delete") {
        e.preventDefault();
        applyLabel(null);
        return;
      }
      const cls = classByHotkey.get(key);
      if (cls) {
        e.preventDefault();
        applyLabel(cls.id);
      }
    }
    window.addEventListener("keydown", onKeyDown);
    return () => window.removeEventListener("keydown", onKeyDown);
  }, [focusedItem, previewOpen, setPreviewOpen, classByHotkey, handleNavKey, applyLabel, undo]);

  const busy = setLabels.isPending || undo.isPending;

  return (
    <div className="flex min-h-0 flex-1 flex-col">
      <div className="flex items-center gap-3 border-b border-zinc-800 px-3 py-1.5 text-xs text-zinc-400">
        <span className="tabular-nums" data-testid="grid-status">
          {loadedTotal === null ? "Loading…" : `${total.toLocaleString()} images`}
          {selectedIds.size > 0 && ` · ${selectedIds.size} selected`}
          {busy && " · saving…"}
        </span>
        <span className="hidden truncate lg:inline">
          ←↑→↓ move · Shift+arrows/click/drag select · 1-9 label · 0/Backspace unlabel · Z undo · Space preview · Ctrl+A all · Esc clear
        </span>
        <button
          data-testid="undo-button"
          onClick={() => undo.mutate()}
          disabled={undo.isPending}
          className="ml-auto rounded border border-zinc-700 px-2 py-0.5 text-zinc-200 hover:bg-zinc-800 disabled:opacity-50"
          title="Undo the last labeling action (Z)"
        >
          Undo
        </button>
      </div>
      {error && <p className="px-3 py-2 text-sm text-red-400">Could not load images: {error.message}</p>}
      {loadedTotal === 0 && (
        <p className="px-3 py-6 text-sm text-zinc-400" data-testid="grid-empty">
          {filter.kind === "all" ? "No images yet: drop files or a folder into the import panel." : "No images in this view."}
        </p>
      )}
      <Grid
        ref={gridRef}
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
