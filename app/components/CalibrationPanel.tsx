"use client";

import { Bar, CartesianGrid, ComposedChart, Legend, Line, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { StoredCalibration } from "@/lib/ml/calibration";

const pct = (x: number) => `${Math.round(100 * x)}%`;
const pct1 = (x: number) => `${(100 * x).toFixed(1)}%`;

/**
 * A model version's calibration: the reliability diagram (per confidence bin, how often the model
 * was right, before and after temperature scaling, against the diagonal a calibrated model sits
 * on) and the expected calibration error before / after. "After" is out of fold (lib/ml/calibration.ts).
 */
export function CalibrationPanel({ calibration }: { calibration: StoredCalibration | null }) {
  if (!calibration) {
    return (
      <section data-testid="model-calibration" className="text-xs text-zinc-500">
        Calibration: not fitted (the run predicted before calibration existed, or has not predicted yet).
      </section>
    );
  }
  const fit = calibration.fit;
  if (!fit) {
    return (
      <section data-testid="model-calibration" className="text-xs text-zinc-500">
        Calibration not fitted: {calibration.reason} among the run&apos;s held-out human labels.
      </section>
    );
  }
  // Only bins that hold a prediction before or after; the bin's centre is the "perfect" line.
  const data = fit.reliabilityBefore
    .map((b, i) => {
      const a = fit.reliabilityAfter[i];
      return {
        bin: `${Math.round(100 * b.lo)}–${Math.round(100 * b.hi)}%`,
        ideal: (b.lo + b.hi) / 2,
        before: b.accuracy,
        after: a.accuracy,
        countBefore: b.count,
        countAfter: a.count,
      };
    })
    .filter((d) => d.countBefore > 0 || d.countAfter > 0);
  return (
    <section data-testid="model-calibration" className="flex flex-col gap-1">
      <h3 className="text-xs font-semibold tracking-wide text-zinc-400 uppercase">Calibration</h3>
      <p className="text-xs text-zinc-300">
        Expected calibration error{" "}
        <span data-testid="model-ece-before" className="tabular-nums">
          {pct1(fit.eceBefore)}
        </span>{" "}
        before,{" "}
        <span data-testid="model-ece-after" className="tabular-nums">
          {pct1(fit.eceAfter)}
        </span>{" "}
        after temperature scaling (T = <span data-testid="model-temperature">{fit.temperature.toFixed(2)}</span>; log-loss {fit.nllBefore.toFixed(3)} →{" "}
        {fit.nllAfter.toFixed(3)}), on n={fit.n} held-out human labels, the &quot;after&quot; figures out of {fit.folds} folds.
        {fit.n < 50 && <span className="text-amber-300"> With so few labels the bins below hold a handful of images each.</span>}
      </p>
      <ResponsiveContainer width="100%" height={200} initialDimension={{ width: 480, height: 200 }}>
        <ComposedChart data={data} margin={{ top: 4, right: 8, bottom: 0, left: 0 }}>
          <CartesianGrid stroke="#27272a" strokeDasharray="3 3" />
          <XAxis dataKey="bin" tick={{ fontSize: 10, fill: "#a1a1aa" }} stroke="#52525b" />
          <YAxis width={40} domain={[0, 1]} tickFormatter={pct} tick={{ fontSize: 10, fill: "#a1a1aa" }} stroke="#52525b" />
          <Tooltip
            contentStyle={{ background: "#18181b", border: "1px solid #3f3f46", fontSize: 11 }}
            formatter={(v, name, item) => {
              const row = item.payload as (typeof data)[number];
              if (typeof v !== "number") return ["empty bin", name];
              const count = name === "before" ? row.countBefore : name === "after" ? row.countAfter : null;
              return [count === null ? pct(v) : `${pct(v)} right of ${count}`, name];
            }}
          />
          <Legend wrapperStyle={{ fontSize: 11 }} />
          <Bar dataKey="before" name="before" fill="#f87171" isAnimationActive={false} />
          <Bar dataKey="after" name="after" fill="#34d399" isAnimationActive={false} />
          <Line dataKey="ideal" name="calibrated (confidence = accuracy)" stroke="#a1a1aa" strokeDasharray="4 3" dot={false} isAnimationActive={false} />
        </ComposedChart>
      </ResponsiveContainer>
    </section>
  );
}
