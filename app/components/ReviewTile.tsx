"use client";

import { memo } from "react";
import { thumbUrl, type ClassDef, type Proposal } from "@/app/lib/api";
import type { GridTileProps } from "./Grid";

/** What happened to a proposal in this session, shown until the refetch drops it from the list. */
export type ProposalDecision = { kind: "accepted" } | { kind: "rejected" } | { kind: "relabeled"; classId: number };

interface ReviewTileProps extends GridTileProps {
  proposal: Proposal | undefined;
  decision: ProposalDecision | undefined;
  classesById: Map<number, ClassDef>;
  /** Name the proposed class on the tile (an audit of all classes mixes them in one grid). */
  showClass?: boolean;
}

/** A proposed image with its confidence; a decided one is dimmed with what was decided. */
export const ReviewTile = memo(function ReviewTile({
  index,
  proposal,
  decision,
  classesById,
  showClass = false,
  size,
  focused,
  selected,
  onPointerDown,
  onPointerEnter,
  onOpen,
}: ReviewTileProps) {
  if (!proposal) {
    return <div className="shrink-0 animate-pulse rounded bg-zinc-900" style={{ width: size, height: size }} />;
  }
  const decisionText =
    decision?.kind === "accepted"
      ? "accepted"
      : decision?.kind === "rejected"
        ? "rejected"
        : decision
          ? `→ ${classesById.get(decision.classId)?.name ?? "class"}`
          : null;
  return (
    <div
      data-testid="proposal-tile"
      data-image-id={proposal.imageId}
      data-confidence={proposal.confidence}
      data-index={index}
      data-decision={decision?.kind}
      data-focused={focused ? "true" : undefined}
      data-selected={selected ? "true" : undefined}
      title={`${proposal.name} · ${(100 * proposal.confidence).toFixed(1)}%`}
      onPointerDown={(e) => onPointerDown(index, e)}
      onPointerEnter={(e) => onPointerEnter(index, e)}
      onDoubleClick={() => onOpen(index)}
      className={`relative shrink-0 cursor-pointer overflow-hidden rounded bg-zinc-900 select-none ${
        focused ? "ring-2 ring-white ring-offset-2 ring-offset-zinc-950" : ""
      }`}
      style={{ width: size, height: size, boxShadow: "inset 0 0 0 1px #27272a" }}
    >
      {/* eslint-disable-next-line @next/next/no-img-element -- thumbnails come from our API, next/image would re-encode them */}
      <img
        src={thumbUrl(proposal.imageId)}
        alt={proposal.name}
        loading="lazy"
        decoding="async"
        draggable={false}
        className={`pointer-events-none h-full w-full object-contain p-[3px] ${decision ? "opacity-30" : ""}`}
      />
      {selected && <div className="pointer-events-none absolute inset-0 bg-sky-500/30 ring-2 ring-sky-400 ring-inset" />}
      <span
        className="pointer-events-none absolute top-1 right-1 rounded bg-black/70 px-1 text-[10px] text-zinc-100 tabular-nums"
        data-testid="proposal-confidence"
      >
        {(100 * proposal.confidence).toFixed(1)}%
      </span>
      {showClass && (
        <span
          data-testid="proposal-class"
          className="pointer-events-none absolute top-1 left-1 max-w-[70%] truncate rounded px-1 text-[10px] text-white"
          style={{ backgroundColor: classesById.get(proposal.classId)?.color ?? "#3f3f46" }}
        >
          {classesById.get(proposal.classId)?.name ?? "class"}
        </span>
      )}
      {decisionText && (
        <span
          className={`pointer-events-none absolute bottom-1 left-1 rounded px-1 py-px text-[10px] font-medium text-white ${
            decision?.kind === "rejected" ? "bg-red-700" : "bg-emerald-700"
          }`}
        >
          {decisionText}
        </span>
      )}
    </div>
  );
});
