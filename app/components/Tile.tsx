"use client";

import { memo } from "react";
import { thumbUrl, type ClassDef, type ImageItem } from "@/app/lib/api";

interface TileProps {
  index: number;
  /** Undefined while the page holding this index is still loading. */
  item: ImageItem | undefined;
  size: number;
  labelClass: ClassDef | undefined;
  focused: boolean;
  selected: boolean;
  onPointerDown: (index: number, e: React.PointerEvent) => void;
  onPointerEnter: (index: number, e: React.PointerEvent) => void;
  onOpen: (index: number) => void;
}

/** One square thumbnail. Memoized: moving focus re-renders two tiles, not the whole grid. */
export const Tile = memo(function Tile({
  index,
  item,
  size,
  labelClass,
  focused,
  selected,
  onPointerDown,
  onPointerEnter,
  onOpen,
}: TileProps) {
  if (!item) {
    return <div className="shrink-0 animate-pulse rounded bg-zinc-900" style={{ width: size, height: size }} />;
  }
  const color = labelClass?.color;
  return (
    <div
      data-testid="tile"
      data-image-id={item.id}
      data-index={index}
      data-label-class-id={item.label ? String(item.label.classId) : ""}
      data-focused={focused ? "true" : undefined}
      data-selected={selected ? "true" : undefined}
      title={item.name}
      onPointerDown={(e) => onPointerDown(index, e)}
      onPointerEnter={(e) => onPointerEnter(index, e)}
      onDoubleClick={() => onOpen(index)}
      className={`relative shrink-0 cursor-pointer overflow-hidden rounded bg-zinc-900 select-none ${
        focused ? "ring-2 ring-white ring-offset-2 ring-offset-zinc-950" : ""
      }`}
      style={{
        width: size,
        height: size,
        // The label colour is the border; unlabeled tiles get a faint one so the grid stays even.
        boxShadow: color ? `inset 0 0 0 3px ${color}` : "inset 0 0 0 1px #27272a",
      }}
    >
      {/* eslint-disable-next-line @next/next/no-img-element -- thumbnails come from our API, next/image would re-encode them */}
      <img
        src={thumbUrl(item.id)}
        alt={item.name}
        loading="lazy"
        decoding="async"
        draggable={false}
        className="pointer-events-none h-full w-full object-contain p-[3px]"
      />
      {selected && <div className="pointer-events-none absolute inset-0 bg-sky-500/30 ring-2 ring-sky-400 ring-inset" />}
      {labelClass && (
        <span
          className="pointer-events-none absolute bottom-1 left-1 max-w-[85%] truncate rounded px-1 py-px text-[10px] font-medium text-white shadow"
          style={{ backgroundColor: labelClass.color }}
        >
          {labelClass.name}
        </span>
      )}
      {item.label && item.label.source !== "human" && (
        <span
          className="pointer-events-none absolute top-1 right-1 rounded bg-black/60 px-1 text-[9px] text-zinc-300"
          title={item.label.source === "imported" ? "label imported from folder names" : "accepted model proposal"}
        >
          {item.label.source === "imported" ? "imp" : "auto"}
        </span>
      )}
    </div>
  );
});
