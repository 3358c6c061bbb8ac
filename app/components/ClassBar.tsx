"use client";

import type { ClassDef, Counts } from "@/app/lib/api";

/** Per-class counts, always on screen while labeling: colour, hotkey, name, count. */
export function ClassBar({ classes, counts }: { classes: ClassDef[]; counts: Counts | undefined }) {
  const n = (v: number | undefined) => (counts ? (v ?? 0) : "…");
  return (
    <div className="flex flex-wrap items-center gap-x-3 gap-y-1 text-xs" data-testid="class-bar">
      {classes.map((c) => (
        <span key={c.id} className="inline-flex items-center gap-1.5">
          <span className="h-3 w-3 shrink-0 rounded-sm" style={{ backgroundColor: c.color }} />
          {c.hotkey && <kbd className="rounded border border-zinc-700 px-1 font-mono text-[10px] text-zinc-400">{c.hotkey}</kbd>}
          <span className="max-w-40 truncate text-zinc-200">{c.name}</span>
          <span className="text-zinc-400 tabular-nums" data-testid={`class-count-${c.id}`}>
            {n(counts?.byClass[c.id])}
          </span>
        </span>
      ))}
      <span className="inline-flex items-center gap-1.5 text-zinc-400">
        unlabeled
        <span className="text-zinc-200 tabular-nums" data-testid="unlabeled-count">
          {n(counts?.unlabeled)}
        </span>
      </span>
      <span className="inline-flex items-center gap-1.5 text-zinc-400">
        total
        <span className="text-zinc-200 tabular-nums" data-testid="total-count">
          {n(counts?.total)}
        </span>
      </span>
    </div>
  );
}
