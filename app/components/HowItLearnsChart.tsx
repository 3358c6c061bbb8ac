"use client";

import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { PerClassFigures, SampleClass, TrainingProgressPoint } from "@/app/lib/api";
import { latestPerStep } from "./RunCharts";

type Row = { step: number } & Record<string, number | null>;

const percent = (v: number) => `${Math.round(v * 100)}%`;

/**
 * Per class over time: the share of its pseudo-labels that pass τ (a class stuck at 0 never becomes
 * a training signal: the model has not "learned to trust" it), and the accuracy of the passing
 * pseudo-labels on held-out images of that class.
 */
export function HowItLearnsChart({ progress, classes }: { progress: readonly TrainingProgressPoint[]; classes: readonly SampleClass[] }) {
  const points = latestPerStep(progress).flatMap((p) => {
    const perClass = (p as TrainingProgressPoint & { perClass?: PerClassFigures | null }).perClass;
    return perClass ? [{ step: p.step, perClass }] : [];
  });
  if (points.length === 0 || classes.length === 0) return null;
  const rows = (key: "maskRate" | "pseudoAcc"): Row[] =>
    points.map(({ step, perClass }) => ({ step, ...Object.fromEntries(classes.map((c) => [`c${c.index}`, perClass[key][c.index] ?? null])) }));
  const last = points.at(-1)!.perClass;
  const neverPass = classes.filter((c) => points.every((p) => !p.perClass.passed[c.index]));
  return (
    <div className="flex flex-col gap-2" data-testid="per-class-charts">
      <ClassChart title="Pseudo-labels above τ, by predicted class" testId="chart-class-mask" data={rows("maskRate")} classes={classes} />
      <ClassChart title="Pseudo-label accuracy on held-out labels, by class" testId="chart-class-pseudo" data={rows("pseudoAcc")} classes={classes} />
      <ul className="flex flex-wrap gap-x-3 text-[11px]" data-testid="class-trust">
        {classes.map((c) => (
          <li key={c.index} style={{ color: c.color }}>
            {c.name}: {last.maskRate[c.index] === null ? "not predicted lately" : `${percent(last.maskRate[c.index]!)} pass τ`}
          </li>
        ))}
      </ul>
      {neverPass.length > 0 && (
        <p className="text-[11px] text-amber-400" data-testid="never-pass">
          Never above τ so far: {neverPass.map((c) => c.name).join(", ")}. The model learns these from labeled images only; label a few more of them.
        </p>
      )}
    </div>
  );
}

function ClassChart({ title, testId, data, classes }: { title: string; testId: string; data: Row[]; classes: readonly SampleClass[] }) {
  return (
    <figure className="flex flex-col gap-1" data-testid={testId}>
      <figcaption className="text-xs text-zinc-400">{title}</figcaption>
      <ResponsiveContainer width="100%" height={120} initialDimension={{ width: 400, height: 120 }}>
        <LineChart data={data} margin={{ top: 4, right: 8, bottom: 0, left: 0 }}>
          <CartesianGrid stroke="#27272a" strokeDasharray="3 3" />
          <XAxis dataKey="step" type="number" domain={["dataMin", "dataMax"]} tick={{ fontSize: 10, fill: "#a1a1aa" }} stroke="#52525b" />
          <YAxis width={44} domain={[0, 1]} tickFormatter={percent} tick={{ fontSize: 10, fill: "#a1a1aa" }} stroke="#52525b" />
          <Tooltip
            contentStyle={{ background: "#18181b", border: "1px solid #3f3f46", fontSize: 11 }}
            labelFormatter={(step) => `step ${step}`}
            formatter={(v) => (typeof v === "number" ? percent(v) : String(v))}
          />
          {classes.map((c) => (
            <Line key={c.index} dataKey={`c${c.index}`} name={c.name} stroke={c.color} dot={false} strokeWidth={1.5} connectNulls isAnimationActive={false} />
          ))}
        </LineChart>
      </ResponsiveContainer>
    </figure>
  );
}
