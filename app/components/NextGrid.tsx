"use client";

import { useCallback, useEffect, useMemo, type ReactNode } from "react";
import { thumbUrl, type ClassDef, type ImageItem } from "@/app/lib/api";
import { useGridSelection } from "@/app/lib/use-grid-selection";
import { Grid, type GridTileProps } from "./Grid";
import { isTypingTarget, otherDialogOpen } from "./LabelingGrid";
import { PreviewModal } from "./PreviewModal";

/** What happened to a listed image in this session, shown dimmed until a refetch drops it. */
export type ListDecision = { kind: "labeled"; classId: number } | { kind: "kept" };

interface PickListGridProps<T> {
  /** The whole list (a few hundred at most: no paging). */
  items: readonly T[];
  imageIdOf: (item: T) => number;
  toImageItem: (item: T) => ImageItem;
  classes: ClassDef[];
  decisions: ReadonlyMap<number, ListDecision>;
  onLabel: (imageIds: number[], classId: number) => void;
  /** K: keep the label as it is (suspicious labels); absent where there is nothing to keep. */
  onKeep?: (imageIds: number[]) => void;
  onUndo: () => void;
  renderTile: (props: GridTileProps, item: T | undefined, decision: ListDecision | undefined) => ReactNode;
  testId: string;
}

/**
 * A short list of images in the virtualized Grid, labeled by keyboard: arrows move, Shift+arrows
 * or Shift/Ctrl+click select, 1-9 label the selection (or the focused image) with that class's
 * key, K keeps (when the page offers it), Z undoes, Space previews. Shared by "label next" and
 * "suspicious labels", which differ only in their tiles and what K means.
 */
export function PickListGrid<T>({ items, imageIdOf, toImageItem, classes, decisions, onLabel, onKeep, onUndo, renderTile, testId }: PickListGridProps<T>) {
  const total = items.length;

  const classesById = useMemo(() => new Map(classes.map((c) => [c.id, c])), [classes]);
  const classByHotkey = useMemo(() => new Map(classes.filter((c) => c.hotkey).map((c) => [c.hotkey!, c])), [classes]);
  const imageItems = useMemo(() => items.map(toImageItem), [items, toImageItem]);
  const itemAt = useCallback((i: number) => imageItems[i], [imageItems]);
  const indexById = useMemo(() => new Map(imageItems.map((it, i) => [it.id, i])), [imageItems]);

  // Focus follows the image, not the slot, when a refetch reorders or shortens the list. No drag
  // selection here: a plain click only moves the focus.
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
    onTileOpen,
  } = useGridSelection({ total, itemAt, indexById, dragSelect: false });

  useEffect(() => {
    function onKeyDown(e: KeyboardEvent) {
      if (isTypingTarget(e.target) || otherDialogOpen() || e.altKey || e.ctrlKey || e.metaKey) return;
      if (handleNavKey(e)) return;
      const key = e.key;
      const lower = key.toLowerCase();
      if (lower === "z" && !e.shiftKey) {
        e.preventDefault();
        onUndo();
      } else if (lower === "k" && onKeep) {
        e.preventDefault();
        actOn(onKeep);
      } else if (key === " ") {
        e.preventDefault();
        setPreviewOpen((open) => !open && !!focusedItem);
      } else {
        const cls = classByHotkey.get(key);
        if (cls) {
          e.preventDefault();
          actOn((ids) => onLabel(ids, cls.id));
        }
      }
    }
    window.addEventListener("keydown", onKeyDown);
    return () => window.removeEventListener("keydown", onKeyDown);
  }, [focusedItem, setPreviewOpen, classByHotkey, handleNavKey, actOn, onLabel, onKeep, onUndo]);

  const noop = useCallback(() => {}, []);

  const tile = useCallback(
    (props: GridTileProps) => {
      const item = items[props.index];
      return renderTile(props, item, item === undefined ? undefined : decisions.get(imageIdOf(item)));
    },
    [items, decisions, imageIdOf, renderTile],
  );

  return (
    <>
      <Grid
        ref={gridRef}
        testId={testId}
        total={total}
        itemAt={itemAt}
        classesById={classesById}
        focusedIndex={focusedIndex}
        selectedIds={selectedIds}
        onColumnsChange={setColumns}
        onVisibleRangeChange={noop}
        onTilePointerDown={onTilePointerDown}
        onTilePointerEnter={noop}
        onTileOpen={onTileOpen}
        renderTile={tile}
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
    </>
  );
}

/** The frame every list tile shares: thumbnail, focus ring, selection wash, dimmed once decided. */
export function ListTileFrame({
  props,
  imageId,
  name,
  testId,
  decided,
  borderColor,
  data,
  children,
}: {
  props: GridTileProps;
  imageId: number;
  name: string;
  testId: string;
  decided: boolean;
  borderColor?: string;
  data?: Record<string, string | number | undefined>;
  children: ReactNode;
}) {
  const { index, size, focused, selected, onPointerDown, onPointerEnter, onOpen } = props;
  return (
    <div
      data-testid={testId}
      data-image-id={imageId}
      data-index={index}
      data-focused={focused ? "true" : undefined}
      data-selected={selected ? "true" : undefined}
      {...Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [`data-${k}`, v]))}
      title={name}
      onPointerDown={(e) => onPointerDown(index, e)}
      onPointerEnter={(e) => onPointerEnter(index, e)}
      onDoubleClick={() => onOpen(index)}
      className={`relative shrink-0 cursor-pointer overflow-hidden rounded bg-zinc-900 select-none ${
        focused ? "ring-2 ring-white ring-offset-2 ring-offset-zinc-950" : ""
      }`}
      style={{ width: size, height: size, boxShadow: borderColor ? `inset 0 0 0 3px ${borderColor}` : "inset 0 0 0 1px #27272a" }}
    >
      {/* eslint-disable-next-line @next/next/no-img-element -- thumbnails come from our API, next/image would re-encode them */}
      <img
        src={thumbUrl(imageId)}
        alt={name}
        loading="lazy"
        decoding="async"
        draggable={false}
        className={`pointer-events-none h-full w-full object-contain p-[3px] ${decided ? "opacity-30" : ""}`}
      />
      {selected && <div className="pointer-events-none absolute inset-0 bg-sky-500/30 ring-2 ring-sky-400 ring-inset" />}
      {children}
    </div>
  );
}

/** "→ cat" or "kept", on a decided tile. */
export function DecisionBadge({ decision, classes }: { decision: ListDecision | undefined; classes: Map<number, ClassDef> }) {
  if (!decision) return null;
  const text = decision.kind === "kept" ? "kept" : `→ ${classes.get(decision.classId)?.name ?? "class"}`;
  return (
    <span data-testid="decision" className="pointer-events-none absolute bottom-1 left-1 rounded bg-emerald-700 px-1 py-px text-[10px] font-medium text-white">
      {text}
    </span>
  );
}
