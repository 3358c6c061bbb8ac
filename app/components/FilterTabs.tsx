"use client";

import type { ClassDef, ImageFilter } from "@/app/lib/api";
import { filterKey } from "@/app/lib/hooks";

/** All / Unlabeled / one tab per class. */
export function FilterTabs({
  filter,
  classes,
  onChange,
}: {
  filter: ImageFilter;
  classes: ClassDef[];
  onChange: (f: ImageFilter) => void;
}) {
  const tabs: { filter: ImageFilter; label: string; color?: string }[] = [
    { filter: { kind: "all" }, label: "All" },
    { filter: { kind: "unlabeled" }, label: "Unlabeled" },
    ...classes.map((c) => ({ filter: { kind: "class", classId: c.id } as ImageFilter, label: c.name, color: c.color })),
  ];
  const current = filterKey(filter);
  return (
    <nav className="flex gap-1 overflow-x-auto border-b border-zinc-800 px-2 pt-1.5" role="tablist" data-testid="filter-tabs">
      {tabs.map((t) => {
        const key = filterKey(t.filter);
        const active = key === current;
        return (
          <button
            key={key}
            role="tab"
            aria-selected={active}
            data-testid={`filter-${key.replace(":", "-")}`}
            onClick={(e) => {
              onChange(t.filter);
              // Keep keyboard labeling working right after a click on a tab.
              e.currentTarget.blur();
            }}
            className={`inline-flex shrink-0 items-center gap-1.5 rounded-t px-2.5 py-1 text-xs ${
              active ? "bg-zinc-800 text-white" : "text-zinc-400 hover:text-zinc-200"
            }`}
          >
            {t.color && <span className="h-2 w-2 rounded-sm" style={{ backgroundColor: t.color }} />}
            <span className="max-w-32 truncate">{t.label}</span>
          </button>
        );
      })}
    </nav>
  );
}
