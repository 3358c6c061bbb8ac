"use client";

import { useEffect, useRef } from "react";
import { isActiveRun, thumbUrl, type SampleClass, type SampleView, type TrainingProgressPoint, type TrainingRun } from "@/app/lib/api";
import { useRunSamples } from "@/app/lib/hooks";
import { HowItLearnsChart } from "./HowItLearnsChart";

const pct = (v: number) => `${Math.round(100 * v)}%`;

/**
 * "How it learns": a few unlabeled images of one training step as that step saw them (recorded by
 * the worker from the step's own tensors): original, weak view, its prediction against τ, masked
 * in or out, the strong view with the ops that made it, and the prediction and loss on it. Below,
 * per class over time: how often its pseudo-labels pass τ, and how often they are right.
 */
export function HowItLearns({ run, progress }: { run: TrainingRun; progress: readonly TrainingProgressPoint[] }) {
  const live = isActiveRun(run);
  const samples = useRunSamples(run.id, live);
  const data = samples.data;
  // The last event is recorded at the last step, just before the run ends, and polling stops with
  // the run: fetch once more when it ends, or the strip keeps an older event (or none, for a short run).
  const { refetch } = samples;
  const wasLive = useRef(live);
  useEffect(() => {
    if (wasLive.current && !live) void refetch();
    wasLive.current = live;
  }, [live, refetch]);
  return (
    <details className="flex flex-col gap-2 rounded border border-zinc-800 p-2" data-testid="how-it-learns" open>
      <summary className="cursor-pointer text-xs font-semibold tracking-wide text-zinc-400 uppercase">How it learns</summary>
      <p className="mt-1 text-xs text-zinc-500">
        Each unlabeled image is seen twice. The model&apos;s guess on a lightly changed (weak) view becomes a pseudo-label only if its confidence reaches
        τ{data?.threshold != null && ` = ${data.threshold}`}; the model is then trained to give the same answer on a heavily changed (strong) view.
      </p>
      {!data || data.step === null ? (
        <p className="text-xs text-zinc-500" data-testid="samples-empty">
          {samples.isError ? "Could not load the samples." : live ? "Samples appear after the first recorded step." : "No samples were recorded for this run."}
        </p>
      ) : (
        <>
          <p className="text-xs text-zinc-400" data-testid="samples-step">
            Step {data.step}
            {live ? " (refreshes while training)" : " (the run's last recorded step)"}
          </p>
          <ol className="flex flex-col gap-2" data-testid="samples-strip">
            {data.samples.map((s) => (
              <SampleCard key={s.position} sample={s} classes={data.classes} />
            ))}
          </ol>
        </>
      )}
      <HowItLearnsChart progress={progress} classes={data?.classes ?? []} />
    </details>
  );
}

function className(classes: readonly SampleClass[], index: number): SampleClass {
  return classes[index] ?? { index, classId: null, name: `class ${index}`, color: "#71717a" };
}

function View({ src, label, testId }: { src: string; label: string; testId: string }) {
  return (
    <figure className="flex flex-col items-center gap-0.5">
      {/* eslint-disable-next-line @next/next/no-img-element -- tiny PNGs from the API, shown pixel for pixel */}
      <img src={src} alt={label} width={64} height={64} className="h-16 w-16 rounded bg-zinc-800" style={{ imageRendering: "pixelated" }} data-testid={testId} />
      <figcaption className="text-[10px] text-zinc-500">{label}</figcaption>
    </figure>
  );
}

/** Confidence as a bar, τ as a mark on it. */
function ConfidenceBar({ confidence, threshold, color }: { confidence: number; threshold: number; color: string }) {
  return (
    <div className="relative h-2 w-full rounded bg-zinc-800" title={`confidence ${pct(confidence)}, τ ${threshold}`}>
      <div className="h-2 rounded" style={{ width: pct(confidence), background: color }} />
      <div className="absolute -top-0.5 h-3 w-0.5 bg-white" style={{ left: pct(threshold) }} data-testid="tau-mark" />
    </div>
  );
}

function SampleCard({ sample, classes }: { sample: SampleView; classes: readonly SampleClass[] }) {
  const weak = className(classes, sample.weak.classIndex);
  const strong = className(classes, sample.strong.classIndex);
  return (
    <li
      className={`grid grid-cols-[auto_auto_1fr_auto_1fr] items-center gap-2 rounded border p-1.5 text-xs ${sample.maskedIn ? "border-emerald-800" : "border-zinc-800"}`}
      data-testid="sample-card"
      data-masked={sample.maskedIn ? "in" : "out"}
      data-image-id={sample.imageId}
    >
      <View src={thumbUrl(sample.imageId)} label="original" testId="sample-original" />
      <View src={sample.weak.url} label="weak" testId="sample-weak" />
      <div className="flex min-w-0 flex-col gap-1">
        <span className="truncate text-zinc-500" data-testid="weak-ops" data-ops={sample.weak.opNames.join(",")}>
          {sample.weak.ops || "unchanged"}
        </span>
        <span>
          <span style={{ color: weak.color }}>{weak.name}</span> <span className="tabular-nums text-zinc-300">{pct(sample.weak.confidence)}</span>
        </span>
        <ConfidenceBar confidence={sample.weak.confidence} threshold={sample.threshold} color={weak.color} />
        <span className={sample.maskedIn ? "text-emerald-400" : "text-zinc-500"} data-testid="sample-mask">
          {sample.maskedIn ? `masked in: trains as “${weak.name}”` : "masked out: below τ, not used"}
        </span>
      </div>
      <View src={sample.strong.url} label="strong" testId="sample-strong" />
      <div className="flex min-w-0 flex-col gap-1">
        <span className="text-zinc-400" data-testid="strong-ops" data-ops={sample.strong.opNames.join(",")}>
          {sample.strong.ops}
        </span>
        <span>
          <span style={{ color: strong.color }}>{strong.name}</span> <span className="tabular-nums text-zinc-300">{pct(sample.strong.confidence)}</span>
        </span>
        <span className="tabular-nums text-zinc-500" data-testid="sample-loss" title="cross-entropy of the strong view against the pseudo-label">
          loss {sample.strong.loss.toFixed(3)}
          {!sample.maskedIn && " (not counted)"}
        </span>
      </div>
    </li>
  );
}
