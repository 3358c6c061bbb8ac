/** A thin bar; `fraction` null means "working, amount unknown". */
export function ProgressBar({ fraction, label, testId, wrapLabel = false }: { fraction: number | null; label?: string; testId?: string; wrapLabel?: boolean }) {
  const pct = fraction === null ? null : Math.round(Math.max(0, Math.min(1, fraction)) * 100);
  return (
    <div className="flex flex-col gap-0.5" data-testid={testId}>
      {label && (
        <div className="flex justify-between gap-2 text-xs text-zinc-400">
          <span className={wrapLabel ? "line-clamp-2 break-words" : "truncate"} title={label}>
            {label}
          </span>
          {pct !== null && <span className="tabular-nums">{pct}%</span>}
        </div>
      )}
      <div
        className="h-1.5 overflow-hidden rounded bg-zinc-800"
        role="progressbar"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={pct ?? undefined}
      >
        <div
          className={`h-full bg-sky-500 transition-[width] duration-200 ${pct === null ? "w-1/3 animate-pulse" : ""}`}
          style={pct === null ? undefined : { width: `${pct}%` }}
        />
      </div>
    </div>
  );
}
