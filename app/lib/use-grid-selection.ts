"use client";

import { useCallback, useEffect, useRef, useState } from "react";
import type { ImageItem } from "@/app/lib/api";
import type { GridHandle } from "@/app/components/Grid";

interface GridSelectionOptions {
  /** How many items the list has (loaded or not). */
  total: number;
  /** The item at an index, undefined while its page is not loaded. */
  itemAt: (index: number) => ImageItem | undefined;
  /** Index of every loaded item by image id: focus follows the image when the list shifts. */
  indexById: ReadonlyMap<number, number>;
  /**
   * Plain click selects the clicked image and dragging over tiles extends the selection (the
   * labeling and review grids). Without it a plain click only moves the focus and clears the selection.
   */
  dragSelect?: boolean;
}

/**
 * Focus, selection, preview and the shared keyboard/mouse rules of the image grids.
 *
 * Focus is remembered by image id as well as index: when an image drops out of the list at a
 * refetch and everything after it shifts up, the focus stays on the same image rather than jump.
 */
export function useGridSelection({ total, itemAt, indexById, dragSelect = true }: GridSelectionOptions) {
  const gridRef = useRef<GridHandle>(null);
  const [columns, setColumns] = useState(1);
  const [focus, setFocus] = useState<{ index: number; id: number | null }>({ index: 0, id: null });
  const [selectedIds, setSelectedIds] = useState<ReadonlySet<number>>(new Set());
  const [previewOpen, setPreviewOpen] = useState(false);
  const anchorRef = useRef(0);
  const draggingRef = useRef(false);

  const focusedIndex = total === 0 ? -1 : Math.min(total - 1, (focus.id !== null ? indexById.get(focus.id) : undefined) ?? focus.index);
  const focusedItem = focusedIndex >= 0 ? itemAt(focusedIndex) : undefined;

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

  /**
   * Acts on the selection (or the focused image), then ends the selection and moves the focus on
   * past the last image acted on, so labeling is one key per image.
   */
  const actOn = useCallback(
    (apply: (ids: number[]) => void) => {
      const ids = selectedIds.size > 0 ? [...selectedIds] : focusedItem ? [focusedItem.id] : [];
      if (ids.length === 0) return;
      apply(ids);
      let after = focusedIndex;
      for (const id of ids) after = Math.max(after, indexById.get(id) ?? after);
      if (selectedIds.size > 0) setSelectedIds(new Set());
      if (after + 1 < total) {
        moveFocusTo(after + 1);
        anchorRef.current = after + 1;
      }
    },
    [selectedIds, focusedItem, focusedIndex, indexById, total, moveFocusTo],
  );

  /**
   * The navigation keys every grid shares: arrows move (by a row up and down, by one in the
   * preview), Shift+arrows extend the selection from the anchor, Ctrl/Cmd+A selects every loaded
   * image, Esc closes the preview or else clears the selection. True when the key was one of them.
   */
  const handleNavKey = useCallback(
    (e: KeyboardEvent): boolean => {
      const mod = e.ctrlKey || e.metaKey;
      const key = e.key;
      const move = (delta: number) => {
        e.preventDefault();
        const to = moveFocusTo((focusedIndex < 0 ? 0 : focusedIndex) + delta);
        if (to === undefined) return;
        if (e.shiftKey) {
          setSelectedIds(idsInRange(anchorRef.current, to));
        } else {
          // A plain move drops the selection, so the next action key acts on what has the focus.
          anchorRef.current = to;
          setSelectedIds((prev) => (prev.size ? new Set() : prev));
        }
      };
      if (key === "ArrowRight") move(1);
      else if (key === "ArrowLeft") move(-1);
      else if (key === "ArrowDown") move(previewOpen ? 1 : columns);
      else if (key === "ArrowUp") move(previewOpen ? -1 : -columns);
      else if (mod && key.toLowerCase() === "a") {
        e.preventDefault();
        setSelectedIds(new Set(indexById.keys()));
      } else if (!mod && key === "Escape") {
        if (previewOpen) setPreviewOpen(false);
        else setSelectedIds(new Set());
      } else return false;
      return true;
    },
    [focusedIndex, columns, previewOpen, indexById, moveFocusTo, idsInRange],
  );

  useEffect(() => {
    if (!dragSelect) return;
    const stopDrag = () => {
      draggingRef.current = false;
    };
    window.addEventListener("pointerup", stopDrag);
    window.addEventListener("pointercancel", stopDrag);
    return () => {
      window.removeEventListener("pointerup", stopDrag);
      window.removeEventListener("pointercancel", stopDrag);
    };
  }, [dragSelect]);

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
      } else if (dragSelect) {
        setSelectedIds(new Set([item.id]));
        anchorRef.current = index;
        draggingRef.current = true;
      } else {
        setSelectedIds(new Set());
        anchorRef.current = index;
      }
    },
    [itemAt, idsInRange, dragSelect],
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

  return {
    gridRef,
    columns,
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
  };
}
