"use client";

import { useState } from "react";
import type { ClassDef, LabelSource } from "@/app/lib/api";
import { useCounts, useExportPreview } from "@/app/lib/hooks";

const SOURCES: { value: LabelSource; label: string }[] = [
  { value: "human", label: "Human labels" },
  { value: "imported", label: "Imported (from folders)" },
  { value: "accepted_proposal", label: "Accepted proposals" },
];

const inputCls = "w-16 rounded border border-zinc-700 bg-zinc-950 px-1.5 py-0.5 text-xs outline-none focus:border-sky-500";

/** A number typed into a field, or null when it is not one in [min, max]; "" counts as `empty`. */
function numberIn(text: string, min: number, max: number, empty: number | null): number | null | "invalid" {
  if (text.trim() === "") return empty;
  const n = Number(text);
  return Number.isFinite(n) && n >= min && n <= max ? n : "invalid";
}

/**
 * "Export dataset": choose label sources, a minimum confidence for accepted proposals, classes and
 * a val share, see how many images that gives, and download the zip. The download is a plain link
 * to the GET route, so the browser streams the zip straight to disk however large it is.
 */
export function ExportPanel({ projectId, classes }: { projectId: number; classes: ClassDef[] }) {
  const counts = useCounts(projectId);
  const [sources, setSources] = useState<Set<LabelSource>>(() => new Set(SOURCES.map((s) => s.value)));
  // Classes left out, so a class added later is exported unless someone unticks it.
  const [excluded, setExcluded] = useState<Set<number>>(() => new Set());
  const [minConfidence, setMinConfidence] = useState("");
  const [valShare, setValShare] = useState("0");

  const chosenClasses = classes.filter((c) => !excluded.has(c.id));
  const confidence = numberIn(minConfidence, 0, 1, null);
  const val = numberIn(valShare, 0, 0.9, 0);
  const problem =
    sources.size === 0
      ? "Choose at least one label source."
      : chosenClasses.length === 0
        ? "Choose at least one class."
        : confidence === "invalid"
          ? "Min confidence is a number from 0 to 1."
          : val === "invalid"
            ? "Val share is a number from 0 to 0.9."
            : null;

  const params = new URLSearchParams();
  if (sources.size < SOURCES.length) params.set("sources", SOURCES.filter((s) => sources.has(s.value)).map((s) => s.value).join(","));
  if (typeof confidence === "number" && sources.has("accepted_proposal")) params.set("minConfidence", String(confidence));
  if (chosenClasses.length < classes.length) params.set("classes", chosenClasses.map((c) => c.id).join(","));
  if (typeof val === "number" && val > 0) params.set("val", String(val));
  const query = params.toString();
  const labelsVersion = counts.data ? JSON.stringify([counts.data.byClass, counts.data.bySource]) : "";
  const preview = useExportPreview(projectId, query, labelsVersion, problem === null);
  const count = preview.data?.count ?? 0;

  const toggle = <T,>(set: Set<T>, value: T, on: boolean) => {
    const next = new Set(set);
    if (on) next.add(value);
    else next.delete(value);
    return next;
  };

  return (
    <section className="flex flex-col gap-2 text-xs" data-testid="export-panel">
      <h3 className="font-semibold tracking-wide text-zinc-400 uppercase">Export dataset</h3>
      <fieldset className="flex flex-col gap-1">
        <legend className="mb-1 text-zinc-400">Label sources</legend>
        {SOURCES.map((s) => (
          <label key={s.value} className="flex items-center gap-2 text-zinc-300">
            <input
              type="checkbox"
              checked={sources.has(s.value)}
              onChange={(e) => setSources((cur) => toggle(cur, s.value, e.target.checked))}
              data-testid={`export-source-${s.value}`}
            />
            {s.label}
          </label>
        ))}
      </fieldset>
      <label className="flex items-center gap-2 text-zinc-300">
        Min confidence of proposals
        <input
          className={inputCls}
          inputMode="decimal"
          placeholder="any"
          value={minConfidence}
          disabled={!sources.has("accepted_proposal")}
          onChange={(e) => setMinConfidence(e.target.value)}
          data-testid="export-min-confidence"
        />
      </label>
      <fieldset className="flex flex-col gap-1">
        <legend className="mb-1 text-zinc-400">Classes</legend>
        <div className="flex max-h-32 flex-col gap-1 overflow-y-auto">
          {classes.map((c) => (
            <label key={c.id} className="flex items-center gap-2 text-zinc-300">
              <input
                type="checkbox"
                checked={!excluded.has(c.id)}
                onChange={(e) => setExcluded((cur) => toggle(cur, c.id, !e.target.checked))}
                data-testid={`export-class-${c.id}`}
              />
              <span className="inline-block h-2 w-2 shrink-0 rounded-full" style={{ background: c.color }} />
              <span className="truncate">{c.name}</span>
              <span className="ml-auto text-zinc-500">{preview.data?.byClass[c.id] ?? 0}</span>
            </label>
          ))}
        </div>
      </fieldset>
      <label className="flex items-center gap-2 text-zinc-300">
        Val share
        <input
          className={inputCls}
          inputMode="decimal"
          value={valShare}
          onChange={(e) => setValShare(e.target.value)}
          data-testid="export-val"
        />
        <span className="text-zinc-500">0 = train only</span>
      </label>
      <p className="text-zinc-300" data-testid="export-count" aria-live="polite">
        {problem ??
          (preview.error
            ? `Cannot export: ${preview.error.message}`
            : preview.data
              ? `${count} image${count === 1 ? "" : "s"}` + (preview.data.val > 0 ? ` (${preview.data.train} train, ${preview.data.val} val)` : "")
              : "Counting…")}
      </p>
      {problem === null && count > 0 ? (
        <a
          href={`/api/projects/${projectId}/export/dataset${query ? `?${query}` : ""}`}
          download
          className="self-start rounded border border-sky-700 bg-sky-900/40 px-2 py-1 text-sky-100 hover:bg-sky-800/60"
          data-testid="export-download"
        >
          Download .zip
        </a>
      ) : (
        <span className="self-start rounded border border-zinc-800 px-2 py-1 text-zinc-500" aria-disabled="true">
          Download .zip
        </span>
      )}
    </section>
  );
}
