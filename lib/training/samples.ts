/**
 * "How it learns" for the web: a run's recorded sample events (rows written by the worker, see
 * lib/ml/samples.ts) as the strip shows them, and the PNG views they point to. tfjs-free.
 */
import fsp from "node:fs/promises";
import path from "node:path";
import type { Db } from "@/lib/db/client";
import { listClasses } from "@/lib/db/queries/classes";
import { listSamples, listSampleSteps } from "@/lib/db/queries/samples";
import { getRun } from "@/lib/db/queries/training";
import { badRequest, notFound } from "@/lib/errors";
import { runDir } from "@/lib/ml/export";

type Ops = { ops: { op: string; magnitude: number }[]; text: string };

export type SampleClass = { index: number; classId: number | null; name: string; color: string };

export type SampleView = {
  position: number;
  imageId: number;
  weak: { url: string; ops: string; opNames: string[]; classIndex: number; confidence: number };
  threshold: number;
  maskedIn: boolean;
  strong: { url: string; ops: string; opNames: string[]; classIndex: number; confidence: number; loss: number };
};

export type RunSamples = { runId: number; step: number | null; steps: number[]; threshold: number | null; classes: SampleClass[]; samples: SampleView[] };

/** The sample event at `step` (default: the latest) with class names; step null when none is recorded yet. */
export function getRunSamples(db: Db, runId: number, step?: number): RunSamples {
  const run = getRun(db, runId);
  const config = run.config as { classIds?: number[]; train?: { threshold?: number } };
  const byId = new Map(listClasses(db, run.projectId).map((c) => [c.id, c]));
  const classes = (config.classIds ?? []).map((id, index): SampleClass => {
    const c = byId.get(id);
    return { index, classId: c ? id : null, name: c?.name ?? `class ${index}`, color: c?.color ?? "#71717a" };
  });
  const steps = listSampleSteps(db, runId);
  const shown = step ?? steps[0] ?? null;
  if (shown !== null && !steps.includes(shown)) throw notFound("sample event", `${runId}@${shown}`);
  const rows = shown === null ? [] : listSamples(db, runId, shown);
  const url = (file: string) => `/api/runs/${runId}/samples/${shown}/${file}`;
  const samples = rows.map((r): SampleView => {
    const weakOps = r.weakOps as Ops;
    const strongOps = r.strongOps as Ops;
    return {
      position: r.position,
      imageId: r.imageId,
      weak: { url: url(r.weakPath), ops: weakOps.text, opNames: weakOps.ops.map((o) => o.op), classIndex: r.weakClassIndex, confidence: r.weakConfidence },
      threshold: r.threshold,
      maskedIn: r.maskedIn,
      strong: { url: url(r.strongPath), ops: strongOps.text, opNames: strongOps.ops.map((o) => o.op), classIndex: r.strongClassIndex, confidence: r.strongConfidence, loss: r.loss },
    };
  });
  return { runId, step: shown, steps, threshold: config.train?.threshold ?? null, classes, samples };
}

const VIEW_FILE = /^\d{1,3}-(weak|strong)\.png$/;

/** One recorded view's PNG bytes; names are checked, so a request cannot reach other files. */
export async function readSampleImage(runId: number, step: number, file: string): Promise<Buffer> {
  if (!VIEW_FILE.test(file)) throw badRequest("not a sample view file name", { field: "file" });
  if (!Number.isInteger(step) || step < 0) throw badRequest("step must be a whole number", { field: "step" });
  try {
    return await fsp.readFile(path.join(runDir(runId), "samples", String(step), file));
  } catch {
    throw notFound("sample view", `${runId}/${step}/${file}`);
  }
}
