"use client";

import { useRef, useState } from "react";
import { isActiveRun, type TrainingRun } from "@/app/lib/api";
import { useProjectRuns, useRunDetail } from "@/app/lib/hooks";
import { AugmentPreview } from "./AugmentPreview";
import { HowItLearns } from "./HowItLearns";
import { RunCharts } from "./RunCharts";
import { RunsList } from "./RunsList";
import { TrainForm } from "./TrainForm";
import { TrainRunCard } from "./TrainRunCard";

/**
 * The project header's "Train" button and the panel it opens over the right of the grid: the grid
 * stays where it is and usable, since training runs in the worker and never blocks labeling.
 */
export function TrainDrawer({ projectId }: { projectId: number }) {
  // The panel opens below the bar that holds this button, whose height depends on the class bar and jobs.
  const [top, setTop] = useState<number | null>(null);
  const button = useRef<HTMLButtonElement>(null);
  const toggle = () => setTop((t) => (t === null ? (button.current?.parentElement?.getBoundingClientRect().bottom ?? 84) : null));
  const open = top !== null;
  const runs = useProjectRuns(projectId);
  const active = runs.data?.runs.find(isActiveRun);
  return (
    <>
      <button
        ref={button}
        onClick={toggle}
        className="rounded border border-zinc-700 px-2 py-0.5 text-xs text-zinc-300 hover:bg-zinc-800"
        aria-expanded={open}
        data-testid="train-open"
      >
        {active ? `Training ${active.status === "running" ? `${Math.round(100 * active.fraction)}%` : "(queued)"}` : "Train"}
      </button>
      {open && (
        <aside
          style={{ top }}
          className="fixed right-0 bottom-0 z-30 flex w-[30rem] max-w-full flex-col gap-4 overflow-y-auto border-l border-zinc-800 bg-zinc-900 p-3 shadow-2xl"
          data-testid="train-panel"
        >
          <div className="flex items-center">
            <h2 className="text-xs font-semibold tracking-wide text-zinc-400 uppercase">Train a model</h2>
            <button onClick={() => setTop(null)} className="ml-auto text-xs text-zinc-400 hover:text-white" aria-label="Close the training panel">
              Close
            </button>
          </div>
          <TrainPanel projectId={projectId} runs={runs.data?.runs ?? []} blocker={runs.data?.blocker ?? null} />
        </aside>
      )}
    </>
  );
}

function TrainPanel({ projectId, runs, blocker }: { projectId: number; runs: TrainingRun[]; blocker: string | null }) {
  // Until the user picks a run, the panel follows the newest one (the active run, or the last finished).
  const [pickedId, setPickedId] = useState<number | null>(null);
  const selectedId = pickedId !== null && runs.some((r) => r.id === pickedId) ? pickedId : (runs[0]?.id ?? null);
  const detail = useRunDetail(selectedId);
  // The detail polls until it sees the run end, so it is the fresher of the two once loaded.
  const run = detail.data?.run ?? runs.find((r) => r.id === selectedId);

  return (
    <>
      <TrainForm projectId={projectId} blocker={blocker} onStarted={setPickedId} />
      <AugmentPreview projectId={projectId} />
      {run && (
        <>
          <TrainRunCard run={run} latest={detail.data?.progress.at(-1)} />
          <RunCharts progress={detail.data?.progress ?? []} mode={run.mode} heldOutN={run.metrics?.heldOutImages} />
          {run.mode === "fixmatch" && <HowItLearns run={run} progress={detail.data?.progress ?? []} />}
        </>
      )}
      <section className="flex flex-col gap-1">
        <h3 className="text-xs font-semibold tracking-wide text-zinc-400 uppercase">Model versions</h3>
        <RunsList runs={runs} selectedId={selectedId} onSelect={setPickedId} />
      </section>
    </>
  );
}
