"use client";

import { formatDuration, type TrainingRun } from "@/app/lib/api";
import { Evidence } from "./Evidence";

/** Every run of the project as a model version; a click shows its charts and config above. */
export function RunsList({ runs, selectedId, onSelect }: { runs: TrainingRun[]; selectedId: number | null; onSelect: (runId: number) => void }) {
  if (runs.length === 0) return <p className="text-xs text-zinc-500">No training runs yet.</p>;
  return (
    <table className="w-full text-left text-xs" data-testid="runs-list">
      <thead className="text-zinc-500">
        <tr>
          <th className="font-normal">Version</th>
          <th className="font-normal">Status</th>
          <th className="font-normal">Mode</th>
          <th className="font-normal">Steps</th>
          <th className="font-normal">Held-out</th>
          <th className="font-normal">Time</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((run) => (
          <tr
            key={run.id}
            onClick={() => onSelect(run.id)}
            className={`cursor-pointer tabular-nums hover:bg-zinc-800 ${run.id === selectedId ? "bg-zinc-800/70" : ""}`}
            data-testid="run-row"
            data-run-id={run.id}
            data-status={run.status}
            title={`${run.preset ?? ""} · click for charts and config`}
            aria-selected={run.id === selectedId}
          >
            <td className="py-0.5 font-mono">{run.modelVersion}</td>
            <td>{run.status}</td>
            <td>{run.mode === "fixmatch" ? "FixMatch" : "supervised"}</td>
            <td>
              {run.step}/{run.totalSteps}
              {run.timeBudgetS !== null && <span className="text-zinc-500"> · {formatDuration(run.timeBudgetS * 1000)}</span>}
            </td>
            <td>
              <Evidence p={run.heldOut} missing="–" />
            </td>
            <td>{run.durationMs === null ? "–" : formatDuration(run.durationMs)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
