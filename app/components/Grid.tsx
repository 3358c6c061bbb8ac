"use client";

import { forwardRef, Fragment, useCallback, useEffect, useImperativeHandle, useRef, useState, type ReactNode } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import type { ClassDef, ImageItem } from "@/app/lib/api";
import { Tile } from "./Tile";

const MIN_TILE = 132;
const GAP = 6;
const PADDING = 8;

/** What the grid knows about one slot; a custom tile (see renderTile) gets exactly this. */
export interface GridTileProps {
  index: number;
  item: ImageItem | undefined;
  size: number;
  focused: boolean;
  selected: boolean;
  onPointerDown: (index: number, e: React.PointerEvent) => void;
  onPointerEnter: (index: number, e: React.PointerEvent) => void;
  onOpen: (index: number) => void;
}

export interface GridHandle {
  scrollToIndex: (index: number) => void;
}

interface GridProps {
  total: number;
  itemAt: (index: number) => ImageItem | undefined;
  classesById: Map<number, ClassDef>;
  focusedIndex: number;
  selectedIds: ReadonlySet<number>;
  onColumnsChange: (columns: number) => void;
  /** Inclusive index range on screen (plus overscan): the parent fetches the pages it needs. */
  onVisibleRangeChange: (first: number, last: number) => void;
  onTilePointerDown: (index: number, e: React.PointerEvent) => void;
  onTilePointerEnter: (index: number, e: React.PointerEvent) => void;
  onTileOpen: (index: number) => void;
  /** Draws each slot instead of the labeling Tile (review draws proposals with their confidence). */
  renderTile?: (props: GridTileProps) => ReactNode;
  testId?: string;
}

/**
 * Virtualized rows of square tiles: only the rows on screen exist in the DOM, so 20,000 images
 * cost what 60 do. The column count follows the container width.
 */
export const Grid = forwardRef<GridHandle, GridProps>(function Grid(
  {
    total,
    itemAt,
    classesById,
    focusedIndex,
    selectedIds,
    onColumnsChange,
    onVisibleRangeChange,
    onTilePointerDown,
    onTilePointerEnter,
    onTileOpen,
    renderTile,
    testId = "grid",
  },
  ref,
) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(0);

  useEffect(() => {
    const el = scrollRef.current;
    if (!el) return;
    const observer = new ResizeObserver(([entry]) => setWidth(entry.contentRect.width));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  const inner = Math.max(0, width - 2 * PADDING);
  const columns = Math.max(1, Math.floor((inner + GAP) / (MIN_TILE + GAP)));
  const tileSize = Math.max(40, Math.floor((inner - GAP * (columns - 1)) / columns));
  const rowHeight = tileSize + GAP;
  const rowCount = Math.ceil(total / columns);

  useEffect(() => onColumnsChange(columns), [columns, onColumnsChange]);

  const virtualizer = useVirtualizer({
    count: rowCount,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => rowHeight,
    overscan: 4,
    paddingStart: PADDING,
    paddingEnd: PADDING,
  });

  // Rows have a fixed height, but it changes with the width: drop the cached sizes.
  useEffect(() => virtualizer.measure(), [rowHeight, virtualizer]);

  const rows = virtualizer.getVirtualItems();
  const firstRow = rows.length ? rows[0].index : 0;
  const lastRow = rows.length ? rows[rows.length - 1].index : 0;
  useEffect(() => {
    if (total > 0) onVisibleRangeChange(firstRow * columns, Math.min(total - 1, (lastRow + 1) * columns - 1));
  }, [firstRow, lastRow, columns, total, onVisibleRangeChange]);

  const scrollToIndex = useCallback(
    (index: number) => virtualizer.scrollToIndex(Math.floor(index / columns), { align: "auto" }),
    [virtualizer, columns],
  );
  useImperativeHandle(ref, () => ({ scrollToIndex }), [scrollToIndex]);

  return (
    <div ref={scrollRef} data-testid={testId} className="min-h-0 flex-1 overflow-y-auto" style={{ overflowAnchor: "none" }}>
      <div className="relative w-full" style={{ height: virtualizer.getTotalSize() }}>
        {width > 0 &&
          rows.map((row) => {
            const start = row.index * columns;
            const end = Math.min(total, start + columns);
            const tiles = [];
            for (let i = start; i < end; i++) {
              const item = itemAt(i);
              const key = item ? item.id : `slot-${i}`;
              const props: GridTileProps = {
                index: i,
                item,
                size: tileSize,
                focused: i === focusedIndex,
                selected: !!item && selectedIds.has(item.id),
                onPointerDown: onTilePointerDown,
                onPointerEnter: onTilePointerEnter,
                onOpen: onTileOpen,
              };
              tiles.push(
                renderTile ? (
                  <Fragment key={key}>{renderTile(props)}</Fragment>
                ) : (
                  <Tile key={key} {...props} labelClass={item?.label ? classesById.get(item.label.classId) : undefined} />
                ),
              );
            }
            return (
              <div
                key={row.key}
                className="absolute left-0 flex"
                style={{ top: 0, transform: `translateY(${row.start}px)`, gap: GAP, paddingLeft: PADDING, height: tileSize }}
              >
                {tiles}
              </div>
            );
          })}
      </div>
    </div>
  );
});
