"use client";

import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { TrainingProgressPoint } from "@/app/lib/api";
import { MIN_EVIDENCE_N } from "@/lib/review/evidence";

type SeriesKey = "lossSup" | "lossUnsup" | "maskRate" | "pseudoAcc" | "lr" | "heldoutAcc";
type Series = { key: SeriesKey; name: string; color: string };

/**
 * A resumed run reports again the steps after its last checkpoint; the later report of a step is
 * the one that counts.
 */
export function latestPerStep(progress: readonly TrainingProgressPoint[]): TrainingProgressPoint[] {
  const byStep = new Map<number, TrainingProgressPoint>();
  for (const p of progress) byStep.set(p.step, p);
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

const percent = (v: number) => `${Math.round(v * 100)}%`;
const compact = (v: number) => (Math.abs(v) >= 0.01 || v === 0 ? v.toFixed(2) : v.toExponential(0));
/** Two significant digits: a learning rate's ticks (0.0075, 0.015, 0.023, 0.03) stay apart where toFixed(2) gave 0.03 0.03 0.03. */
const learningRate = (v: number) => (v === 0 ? "0" : String(Number(v.toPrecision(2))));

/** The run's live charts: losses, mask rate, learning rate and held-out accuracy, by step. */
export function RunCharts({ progress, mode, heldOutN }: { progress: readonly TrainingProgressPoint[]; mode: "fixmatch" | "supervised"; heldOutN?: number }) {
  const data = latestPerStep(progress);
  if (data.length === 0) return <p className="text-xs text-zinc-500">Charts appear with the first progress report.</p>;
  const fixmatch = mode === "fixmatch";
  // Held-out accuracy is measured on evaluation steps only; the other rows would break its line.
  const evaluated = data.filter((p) => p.heldoutAcc !== null);
  return (
    <div className="grid grid-cols-1 gap-3">
      <MetricChart
        title="Loss"
        testId="chart-loss"
        data={data}
        format={compact}
        series={[
          { key: "lossSup", name: "supervised", color: "#38bdf8" },
          ...(fixmatch ? [{ key: "lossUnsup", name: "unsupervised", color: "#f472b6" } as const] : []),
        ]}
      />
      {fixmatch && (
        <MetricChart
          title="Unlabeled images above τ (mask rate), and their pseudo-label accuracy on held-out images"
          testId="chart-mask"
          data={data}
          format={percent}
          domain={[0, 1]}
          series={[
            { key: "maskRate", name: "mask rate", color: "#a78bfa" },
            { key: "pseudoAcc", name: "pseudo-label accuracy", color: "#fbbf24" },
          ]}
        />
      )}
      {/* From 0: the cosine decay is seen for what it is (to ~0.2 lr0), and the ticks are spread over the whole range. */}
      <MetricChart title="Learning rate" testId="chart-lr" data={data} format={learningRate} domain={[0, "dataMax"]} series={[{ key: "lr", name: "learning rate", color: "#94a3b8" }]} />
      <MetricChart
        title={
          heldOutN === undefined
            ? "Held-out accuracy (EMA model)"
            : heldOutN < MIN_EVIDENCE_N
              ? `Held-out accuracy (EMA model): not enough labels (n=${heldOutN}); a trend, not a figure`
              : `Held-out accuracy (EMA model), on n=${heldOutN} human labels the run does not train on`
        }
        testId="chart-accuracy"
        data={evaluated}
        format={percent}
        domain={[0, 1]}
        dots
        series={[{ key: "heldoutAcc", name: "held-out accuracy", color: "#34d399" }]}
      />
    </div>
  );
}

function MetricChart({
  title,
  testId,
  data,
  series,
  format,
  domain,
  dots = false,
}: {
  title: string;
  testId: string;
  data: TrainingProgressPoint[];
  series: Series[];
  format: (v: number) => string;
  domain?: [number | "dataMax", number | "dataMax"];
  dots?: boolean;
}) {
  return (
    <figure className="flex flex-col gap-1" data-testid={testId}>
      <figcaption className="text-xs text-zinc-400">{title}</figcaption>
      {data.length === 0 ? (
        <p className="text-xs text-zinc-600">Not measured yet.</p>
      ) : (
        <ResponsiveContainer width="100%" height={130} initialDimension={{ width: 400, height: 130 }}>
          <LineChart data={data} margin={{ top: 4, right: 8, bottom: 0, left: 0 }}>
            <CartesianGrid stroke="#27272a" strokeDasharray="3 3" />
            <XAxis dataKey="step" type="number" domain={["dataMin", "dataMax"]} tick={{ fontSize: 10, fill: "#a1a1aa" }} stroke="#52525b" />
            <YAxis width={44} domain={domain ?? ["auto", "auto"]} tickFormatter={format} tick={{ fontSize: 10, fill: "#a1a1aa" }} stroke="#52525b" />
            <Tooltip
              contentStyle={{ background: "#18181b", border: "1px solid #3f3f46", fontSize: 11 }}
              labelFormatter={(step) => `step ${step}`}
              formatter={(v) => (typeof v === "number" ? format(v) : String(v))}
            />
            {series.length > 1 && <Legend wrapperStyle={{ fontSize: 11 }} />}
            {series.map((s) => (
              <Line
                key={s.key}
                dataKey={s.key}
                name={s.name}
                stroke={s.color}
                dot={dots ? { r: 2 } : false}
                strokeWidth={1.5}
                connectNulls
                isAnimationActive={false}
              />
            ))}
          </LineChart>
        </ResponsiveContainer>
      )}
    </figure>
  );
}
