"use client";

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { IMAGE_PAGE_SIZE, type ClassDef, type ImageFilter } from "@/app/lib/api";
import { itemAt as pageItemAt, useImagePages, useSetLabels, useUndoLabels } from "@/app/lib/hooks";
import { Grid, type GridHandle } from "./Grid";
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
 * Focus is remembered by image id as well as index: in the Unlabeled filter a labeled image drops
 * out at the next refetch and everything after it shifts up, and the focus should stay on the
 * same image rather than jump.
 */
export function LabelingGrid({ projectId, filter, classes }: LabelingGridProps) {
  const gridRef = useRef<GridHandle>(null);
  const [requestedPages, setRequestedPages] = useState<number[]>([0]);
  const { pages, total: loadedTotal, error } = useImagePages(projectId, filter, requestedPages);
  const total = loadedTotal ?? 0;
  const [columns, setColumns] = useState(1);
  const [focus, setFocus] = useState<{ index: number; id: number | null }>({ index: 0, id: null });
  const [selectedIds, setSelectedIds] = useState<ReadonlySet<number>>(new Set());
  const anchorRef = useRef(0);
  const draggingRef = useRef(false);
  const [previewOpen, setPreviewOpen] = useState(false);
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

  const focusedIndex =
    total === 0 ? -1 : Math.min(total - 1, (focus.id !== null ? indexById.get(focus.id) : undefined) ?? focus.index);
  const focusedItem = focusedIndex >= 0 ? itemAt(focusedIndex) : undefined;

  const onVisibleRangeChange = useCallback((first: number, last: number) => {
    const firstPage = Math.floor(first / IMAGE_PAGE_SIZE);
    const lastPage = Math.floor(last / IMAGE_PAGE_SIZE);
    setRequestedPages((prev) => {
      const missing: number[] = [];
      for (let p = firstPage; p <= lastPage; p++) if (!prev.includes(p)) missing.push(p);
      return missing.length ? [...prev, ...missing].sort((a, b) => a - b) : prev;
    });
  }, []);

  // Pages past the end (after the list shrank) simply come back empty, so they need no pruning.

  const moveFocusTo = useCallback(
    (index: number) => {
      if (total === 0) return;
      const clamped = Math.max(0, Math.min(total - 1, index));
      setFocus({ index: clamped, id: itemAt(clamped)?.id ?? null });
      gridRef.current?.scrollToIndex(clamped);
      return clamped;
    },
    [total, itemAt],
  );

  const idsInRange = useCallback(
    (a: number, b: number) => {
      const ids = new Set<number>();
      for (let i = Math.min(a, b); i <= Math.max(a, b); i++) {
        const it = itemAt(i);
        if (it) ids.add(it.id);
      }
      return ids;
    },
    [itemAt],
  );

  const applyLabel = useCallback(
    (classId: number | null) => {
      const ids = selectedIds.size > 0 ? [...selectedIds] : focusedItem ? [focusedItem.id] : [];
      if (ids.length === 0) return;
      setLabels.mutate({ imageIds: ids, classId });
      // Labeling a selection ends it; focus goes on after the last labeled image.
      let after = focusedIndex;
      if (selectedIds.size > 0) {
        for (const id of selectedIds) after = Math.max(after, indexById.get(id) ?? after);
        setSelectedIds(new Set());
      }
      if (after + 1 < total) {
        moveFocusTo(after + 1);
        anchorRef.current = after + 1;
      }
    },
    [selectedIds, focusedItem, focusedIndex, indexById, total, setLabels, moveFocusTo],
  );

  useEffect(() => {
    function onKeyDown(e: KeyboardEvent) {
      if (isTypingTarget(e.target) || otherDialogOpen() || e.altKey) return;
      const mod = e.ctrlKey || e.metaKey;
      const key = e.key;

      const move = (delta: number) => {
        e.preventDefault();
        if (total === 0) return;
        const from = focusedIndex < 0 ? 0 : focusedIndex;
        const to = moveFocusTo(from + delta);
        if (to === undefined) return;
        if (e.shiftKey) {
          setSelectedIds(idsInRange(anchorRef.current, to));
        } else {
          // A plain move drops the selection, so the next number key labels what has the focus.
          anchorRef.current = to;
          setSelectedIds((prev) => (prev.size ? new Set() : prev));
        }
      };

      if (key === "ArrowRight") return move(1);
      if (key === "ArrowLeft") return move(-1);
      if (key === "ArrowDown") return move(previewOpen ? 1 : columns);
      if (key === "ArrowUp") return move(previewOpen ? -1 : -columns);

      if (mod && key.toLowerCase() === "a") {
        e.preventDefault();
        const all = new Set<number>();
        for (const page of pages.values()) for (const it of page.items) all.add(it.id);
        setSelectedIds(all);
        return;
      }
      if (key.toLowerCase() === "z" && !e.shiftKey) {
        e.preventDefault();
        undo.mutate();
        return;
      }
      if (mod) return; // leave the browser's other shortcuts alone
      if (key === "Escape") {
        if (previewOpen) setPreviewOpen(false);
        else setSelectedIds(new Set());
        return;
      }
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
  }, [total, focusedIndex, focusedItem, columns, previewOpen, pages, classByHotkey, idsInRange, moveFocusTo, applyLabel, undo]);

  useEffect(() => {
    const stopDrag = () => {
      draggingRef.current = false;
    };
    window.addEventListener("pointerup", stopDrag);
    window.addEventListener("pointercancel", stopDrag);
    return () => {
      window.removeEventListener("pointerup", stopDrag);
      window.removeEventListener("pointercancel", stopDrag);
    };
  }, []);

  const onTilePointerDown = useCallback(
    (index: number, e: React.PointerEvent) => {
      if (e.button !== 0) return;
      const item = itemAt(index);
      if (!item) return;
      // The grid is not a form field: take focus away from inputs so the keys work right after a click.
      if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
      setFocus({ index, id: item.id });
      if (e.shiftKey) {
        setSelectedIds(idsInRange(anchorRef.current, index));
      } else if (e.ctrlKey || e.metaKey) {
        setSelectedIds((prev) => {
          const next = new Set(prev);
          if (next.has(item.id)) next.delete(item.id);
          else next.add(item.id);
          return next;
        });
        anchorRef.current = index;
      } else {
        setSelectedIds(new Set([item.id]));
        anchorRef.current = index;
        draggingRef.current = true;
      }
    },
    [itemAt, idsInRange],
  );

  const onTilePointerEnter = useCallback(
    (index: number, e: React.PointerEvent) => {
      if (!draggingRef.current || (e.buttons & 1) === 0) return;
      const item = itemAt(index);
      setSelectedIds(idsInRange(anchorRef.current, index));
      if (item) setFocus({ index, id: item.id });
    },
    [itemAt, idsInRange],
  );

  const onTileOpen = useCallback(
    (index: number) => {
      const item = itemAt(index);
      if (!item) return;
      setFocus({ index, id: item.id });
      setPreviewOpen(true);
    },
    [itemAt],
  );

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
