"use client";

import { formatDuration, isActiveRun, runStepsLabel, type TrainingProgressPoint, type TrainingRun } from "@/app/lib/api";
import { useStopRun } from "@/app/lib/hooks";
import { ProgressBar } from "./ProgressBar";
import { Evidence } from "./Evidence";

const STATUS_COLOR: Record<TrainingRun["status"], string> = {
  queued: "text-zinc-300",
  running: "text-sky-400",
  succeeded: "text-emerald-400",
  failed: "text-red-400",
  stopped: "text-amber-400",
};

function progressLabel(run: TrainingRun, latest: TrainingProgressPoint | undefined): string {
  if (run.status === "queued") {
    if (run.jobsAhead) return `waiting: ${run.jobsAhead} job${run.jobsAhead === 1 ? "" : "s"} ahead in the queue`;
    return run.step > 0 ? `waiting to resume at step ${run.step}` : "waiting for the worker";
  }
  const parts = [runStepsLabel(run)];
  if (run.status === "running" && latest) parts.push(`ETA ${formatDuration(latest.etaS * 1000)}`, `${latest.imagesPerS.toFixed(0)} img/s`);
  return parts.join(" · ");
}

/** The run's state: status, backend, progress with ETA, Stop, and the config it trains with. */
export function TrainRunCard({ run, latest }: { run: TrainingRun; latest: TrainingProgressPoint | undefined }) {
  const stop = useStopRun(run.projectId);
  const active = isActiveRun(run);
  return (
    <section className="flex flex-col gap-2 rounded border border-zinc-800 p-2" data-testid="run-card" data-run-id={run.id}>
      <div className="flex items-center gap-2 text-sm">
        <span className="font-mono">{run.modelVersion}</span>
        <span className="text-zinc-500">
          {run.mode === "fixmatch" ? "FixMatch" : "supervised"} · {run.preset}
        </span>
        <span className={`ml-auto font-medium ${STATUS_COLOR[run.status]}`} data-testid="run-status">
          {run.status}
        </span>
      </div>
      {run.backend && (
        <p className="text-xs text-zinc-400" data-testid="run-backend">
          Backend <span className="font-mono text-zinc-200">{run.backend}</span>
          {run.backendReason && <span className="text-zinc-500"> — {run.backendReason}</span>}
        </p>
      )}
      <ProgressBar fraction={run.status === "queued" ? null : run.fraction} label={progressLabel(run, latest)} testId="run-progress" />
      {run.activity && (
        <p className="text-xs text-zinc-400" data-testid="run-activity">
          {run.activity}
        </p>
      )}
      <RunBackbone run={run} />
      <RunFacts run={run} />
      {run.error && <p className="text-xs text-red-400">{run.error}</p>}
      {active && (
        <button
          type="button"
          onClick={() => stop.mutate(run.id)}
          disabled={stop.isPending}
          className="self-start rounded border border-zinc-700 px-2 py-1 text-xs text-zinc-200 hover:bg-zinc-800 disabled:opacity-50"
          data-testid="stop-run"
          title="Stops after the current step; the last checkpoint is kept"
        >
          {stop.isPending ? "Stopping…" : "Stop"}
        </button>
      )}
      <RunConfig run={run} />
    </section>
  );
}

/** Which backbone the run starts from (or none: from scratch), so a run never hides what it trains. */
function RunBackbone({ run }: { run: TrainingRun }) {
  const overrides = (run.config?.request as { overrides?: { backbone?: { kind: string; alpha?: string; source?: string; cutLayer?: string } | null; backboneMode?: string } } | undefined)?.overrides;
  const backbone = overrides?.backbone;
  // A run whose request named no backbone (an API caller) says what the default made of it, and why.
  const byDefault = run.startFrom?.by === "default" ? run.startFrom.reason : null;
  if (!backbone) {
    return byDefault ? (
      <p className="text-xs text-zinc-400" data-testid="run-backbone">
        From scratch: {byDefault}
      </p>
    ) : null;
  }
  const name = backbone.kind === "mobilenet-v2" ? `ImageNet MobileNetV2 (α ${backbone.alpha})` : `your backbone ${backbone.source} (cut at ${backbone.cutLayer})`;
  return (
    <p className="text-xs text-zinc-400" data-testid="run-backbone">
      Starts from <span className="text-zinc-200">{name}</span>, {overrides?.backboneMode === "finetune" ? "fine-tuned" : "frozen"}
      {byDefault && <span className="text-zinc-500"> — {byDefault}</span>}
    </p>
  );
}

function RunFacts({ run }: { run: TrainingRun }) {
  const facts: [string, React.ReactNode][] = [];
  if (run.durationMs !== null) facts.push(["Duration", formatDuration(run.durationMs)]);
  if (run.heldOut || run.status === "succeeded" || run.status === "stopped")
    facts.push(["Held-out accuracy", <Evidence key="acc" p={run.heldOut} missing={run.heldOutReason} testId="run-heldout-accuracy" />]);
  if (run.metrics?.heldOutImages !== undefined) facts.push(["Held-out human labels", String(run.metrics.heldOutImages)]);
  if (run.metrics?.trainLabeled !== undefined) facts.push(["Labeled for training", String(run.metrics.trainLabeled)]);
  if (facts.length === 0) return null;
  return (
    <dl className="grid grid-cols-2 gap-x-2 text-xs">
      {facts.map(([k, v]) => (
        <div key={k} className="contents">
          <dt className="text-zinc-500">{k}</dt>
          <dd className="tabular-nums text-zinc-200">{v}</dd>
        </div>
      ))}
    </dl>
  );
}

/** The resolved config once the worker has started the run; until then, what was asked for. */
function RunConfig({ run }: { run: TrainingRun }) {
  const config = run.config?.train ?? run.config?.request;
  if (!config) return null;
  const shown = Object.entries(config).filter(([k]) => k !== "augment");
  return (
    <details className="text-xs">
      <summary className="cursor-pointer text-zinc-400">Config</summary>
      <dl className="mt-1 grid grid-cols-2 gap-x-2 font-mono" data-testid="run-config">
        {shown.map(([k, v]) => (
          <div key={k} className="contents">
            <dt className="text-zinc-500">{k}</dt>
            <dd className="truncate text-zinc-300" title={JSON.stringify(v)}>
              {typeof v === "object" ? JSON.stringify(v) : String(v)}
            </dd>
          </div>
        ))}
      </dl>
    </details>
  );
}
