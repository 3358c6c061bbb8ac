"use client";

import type { ClassDef, ModelMetrics } from "@/app/lib/api";
import { Evidence } from "./Evidence";
import { CalibrationPanel } from "./CalibrationPanel";

const pct = (x: number | null | undefined, digits = 1) => (x === null || x === undefined ? "—" : `${(100 * x).toFixed(digits)}%`);

function className(classesById: Map<number, ClassDef>, id: number) {
  return classesById.get(id)?.name ?? `class #${id} (deleted)`;
}

/**
 * The confusion matrix as a heat map: rows are the human label, columns the model's prediction.
 * Each cell is shaded by its share of its row (the recall view: where a class's images went),
 * so a small class's errors show as clearly as a big one's; the count is written in the cell.
 */
export function ConfusionMatrix({ metrics, classesById }: { metrics: ModelMetrics; classesById: Map<number, ClassDef> }) {
  const heldOut = metrics.heldOut;
  if (!heldOut || heldOut.n === 0) return null;
  const k = heldOut.classIds.length;
  return (
    <div data-testid="confusion-matrix" className="overflow-x-auto">
      <div className="inline-grid gap-px text-[11px]" style={{ gridTemplateColumns: `auto repeat(${k}, minmax(2.5rem, auto))` }}>
        <div className="px-1 text-right text-zinc-500">label ↓ · predicted →</div>
        {heldOut.classIds.map((id) => (
          <div key={`h${id}`} className="truncate px-1 text-center text-zinc-400" title={className(classesById, id)}>
            {className(classesById, id)}
          </div>
        ))}
        {heldOut.classIds.map((rowId, i) => {
          const rowTotal = heldOut.confusion[i].reduce((a, b) => a + b, 0);
          return [
            <div key={`r${rowId}`} className="truncate px-1 text-right text-zinc-400" title={className(classesById, rowId)}>
              {className(classesById, rowId)}
            </div>,
            ...heldOut.confusion[i].map((count, j) => {
              const share = rowTotal === 0 ? 0 : count / rowTotal;
              // Right answers in green, mistakes in red; the stronger, the larger the share of the row.
              const hue = i === j ? "16,185,129" : "239,68,68";
              return (
                <div
                  key={`c${rowId}-${heldOut.classIds[j]}`}
                  data-testid="confusion-cell"
                  data-row={rowId}
                  data-col={heldOut.classIds[j]}
                  data-count={count}
                  title={`${count} held-out image${count === 1 ? "" : "s"} labeled ${className(classesById, rowId)}, predicted ${className(classesById, heldOut.classIds[j])} (${pct(share, 0)} of the row)`}
                  className="flex h-8 items-center justify-center rounded-sm tabular-nums"
                  style={{ backgroundColor: count === 0 ? "rgb(24,24,27)" : `rgba(${hue},${0.15 + 0.85 * share})`, color: share > 0.5 ? "white" : "rgb(212,212,216)" }}
                >
                  {count}
                </div>
              );
            }),
          ];
        })}
      </div>
    </div>
  );
}

/** One model version's numbers: held-out accuracy, per-class precision/recall, confusion matrix, training labels, proposal acceptance. */
export function ModelMetricsPanel({ metrics, classesById }: { metrics: ModelMetrics; classesById: Map<number, ClassDef> }) {
  const { heldOut, trainedOn, startedFrom, proposals, run } = metrics;
  return (
    <section className="flex min-w-0 flex-1 flex-col gap-4" data-testid="model-metrics" data-run-id={run.id}>
      <header>
        <h2 className="text-sm font-semibold">
          {run.modelVersion} <span className="font-normal text-zinc-400">· {run.mode} · {run.status}</span>
        </h2>
        <p className="text-xs text-zinc-500">{run.finishedAt ? `finished ${new Date(run.finishedAt).toLocaleString()}` : `created ${new Date(run.createdAt).toLocaleString()}`}</p>
      </header>

      <div className="flex flex-wrap gap-6">
        <div>
          <div className="text-xs text-zinc-400">Held-out accuracy</div>
          <div className="text-lg font-semibold tabular-nums">
            <Evidence p={heldOut && heldOut.n > 0 ? heldOut.accuracy : null} missing="—" testId="model-accuracy" what="held-out human labels" />
          </div>
          <div className="text-xs text-zinc-500">
            {heldOut && heldOut.n > 0 ? `${heldOut.correct} of ${heldOut.n} held-out human labels the model did not train on` : metrics.heldOutReason}
            {run.trainerHeldOut !== null && (
              <>
                {" "}· trainer measured <Evidence p={run.trainerHeldOut} /> at the end
              </>
            )}
          </div>
        </div>
        <div>
          <div className="text-xs text-zinc-400">Proposal acceptance</div>
          <div className="text-2xl font-semibold tabular-nums" data-testid="model-acceptance">
            {proposals.accepted + proposals.rejected === 0 ? "—" : `${proposals.accepted} of ${proposals.accepted + proposals.rejected}`}
          </div>
          <div className="text-xs text-zinc-500">
            reviewed proposals accepted ({proposals.rejected} rejected); a reviewer&apos;s choice, not a measure of accuracy
          </div>
        </div>
        <div>
          <div className="text-xs text-zinc-400">Trained on</div>
          {trainedOn ? (
            <div className="text-sm tabular-nums" data-testid="model-trained-on">
              {trainedOn.total.toLocaleString()} labels: {trainedOn.human.toLocaleString()} by hand · {trainedOn.accepted_proposal.toLocaleString()} accepted ·{" "}
              {trainedOn.imported.toLocaleString()} imported
              {trainedOn.unknown > 0 && <> · {trainedOn.unknown} unknown</>}
              <div className="text-xs text-zinc-500">
                sources as they were when the run started{metrics.heldOutLabels !== null && <>; {metrics.heldOutLabels} more held out for evaluation</>}
              </div>
              {startedFrom && (
                <div className="text-xs text-zinc-400" data-testid="model-started-from">
                  Started from {startedFrom.total.toLocaleString()} labels: {startedFrom.human.toLocaleString()} by hand · {startedFrom.accepted_proposal.toLocaleString()}{" "}
                  accepted · {startedFrom.imported.toLocaleString()} imported
                  {startedFrom.unknown > 0 && <> · {startedFrom.unknown} unknown</>}
                </div>
              )}
            </div>
          ) : (
            <div className="text-sm text-zinc-500">unknown (the run&apos;s data snapshot is missing)</div>
          )}
        </div>
      </div>

      {heldOut && heldOut.n > 0 && (
        <>
          <table className="w-fit text-xs tabular-nums" data-testid="model-per-class">
            <thead className="text-zinc-400">
              <tr>
                <th className="pr-4 text-left font-normal">class</th>
                <th className="pr-4 text-right font-normal" title="Of the held-out images the model called this class, the share labeled so">
                  precision
                </th>
                <th className="pr-4 text-right font-normal" title="Of the held-out images labeled this class, the share the model found">
                  recall
                </th>
                <th className="text-right font-normal">held-out labels</th>
              </tr>
            </thead>
            <tbody>
              {heldOut.byClass.map((c) => (
                <tr key={c.classId}>
                  <td className="pr-4">
                    <span className="mr-1.5 inline-block h-2 w-2 rounded-sm" style={{ backgroundColor: classesById.get(c.classId)?.color ?? "#71717a" }} />
                    {className(classesById, c.classId)}
                  </td>
                  <td className="pr-4 text-right">
                    <Evidence p={c.precision} what="held-out images predicted as this class" />
                  </td>
                  <td className="pr-4 text-right">
                    <Evidence p={c.recall} what="held-out images labeled this class" />
                  </td>
                  <td className="text-right text-zinc-400">{c.support}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <ConfusionMatrix metrics={metrics} classesById={classesById} />
        </>
      )}
      <CalibrationPanel calibration={metrics.calibration} />
    </section>
  );
}
