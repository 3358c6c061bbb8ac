import { formatProportion, type Proportion } from "@/lib/review/evidence";

/**
 * A share measured on human labels, as text with its evidence: "74% [61–84%] (n=40)", or
 * "not enough labels (n=3)" below MIN_EVIDENCE_N; `missing` when there is no figure at all.
 * Never a bare percentage (lib/review/evidence.ts).
 */
export function Evidence({ p, missing = "—", testId, what = "human labels" }: { p: Proportion | null; missing?: string | null; testId?: string; what?: string }) {
  if (!p) return <span data-testid={testId} className="text-zinc-500">{missing ?? "—"}</span>;
  const title = p.n === 0 ? `no ${what}` : `${p.k} of ${p.n} ${what}${p.enough && p.interval ? `; 95% Wilson interval ${Math.round(100 * p.interval[0])}–${Math.round(100 * p.interval[1])}%` : ""}`;
  return (
    <span data-testid={testId} data-enough={p.enough} title={title} className={p.enough ? undefined : "text-amber-300"}>
      {formatProportion(p)}
    </span>
  );
}

/** The same as plain text, for labels that cannot hold markup (e.g. <option>). */
export const evidenceText = (p: Proportion | null, missing = "—") => (p ? formatProportion(p) : missing);
