/**
 * How often a run's proposals are right, measured where the answer is known and the model did not
 * train on it: the run's held-out human labels. The trainer held out human labels per class with
 * splitRunLabels (ground-truth.ts) over the data snapshot it took (worker/handlers/train.ts writes
 * <dataDir>/runs/<id>/data.json); here the same function over the same snapshot gives the same
 * images, of which those a person labels now are the ground truth. Accepted proposals are never
 * held out, so the model is never judged on its own guesses.
 *
 * Precision at a threshold t: among those images whose prediction has confidence >= t, the share
 * whose top class is the human label. Per class c: the same among predictions of class c, which
 * is what accepting class c's proposals above t would be right about.
 */
import fs from "node:fs";
import path from "node:path";
import type { Db } from "@/lib/db/client";
import { listHumanLabelsWithPredictions, listPredictedImageIds, type ProposalScope } from "@/lib/db/queries/review";
import { getEnv } from "@/lib/env";
import { splitRunLabels, type SnapshotLabel } from "./ground-truth";
import { wilsonInterval } from "./intervals";

export { wilsonInterval };

/** The thresholds the summary precomputes, so the slider answers without a request: 0.50..0.99 by 0.01, then 0.991..0.999. */
export const CURVE_THRESHOLDS: readonly number[] = [
  ...Array.from({ length: 50 }, (_, i) => (50 + i) / 100),
  ...Array.from({ length: 9 }, (_, i) => (991 + i) / 1000),
];

/** A held-out image: the human label next to the model's guess. */
export type JudgedPrediction = { imageId: number; labelClassId: number; topClassId: number; confidence: number };

export type PrecisionCount = { precision: number | null; support: number; correct: number };

export type PrecisionAt = PrecisionCount & {
  threshold: number;
  /** 95% Wilson score interval of the precision (null without support): with n=12 it is wide, and the UI can say so. */
  interval: [number, number] | null;
  /** Keyed by the proposed (top) class. */
  byClass: Record<number, PrecisionCount>;
};

export type PrecisionEstimate = PrecisionAt & {
  /** Held-out human labels the run has a prediction for, at any confidence. */
  heldOut: number;
  /** Why precision is null, when it is. */
  reason: string | null;
};

function ratio(correct: number, support: number): PrecisionCount {
  return { precision: support === 0 ? null : correct / support, support, correct };
}

/** Precision overall and per proposed class among the judged predictions at or above `threshold`. */
export function precisionAt(judged: readonly JudgedPrediction[], threshold: number, classIds: readonly number[] = []): PrecisionAt {
  const perClass = new Map<number, { correct: number; support: number }>(classIds.map((id) => [id, { correct: 0, support: 0 }]));
  let correct = 0;
  let support = 0;
  for (const j of judged) {
    if (j.confidence < threshold) continue;
    const right = j.topClassId === j.labelClassId ? 1 : 0;
    support++;
    correct += right;
    const c = perClass.get(j.topClassId) ?? { correct: 0, support: 0 };
    c.support++;
    c.correct += right;
    perClass.set(j.topClassId, c);
  }
  const byClass: Record<number, PrecisionCount> = {};
  for (const [classId, c] of perClass) byClass[classId] = ratio(c.correct, c.support);
  return { threshold, ...ratio(correct, support), interval: wilsonInterval(correct, support), byClass };
}

/** What the trainer snapshotted (worker/handlers/train.ts DataSnapshot): class order and labeled images as [imageId, classIndex, source]. */
export type RunDataSnapshot = { classIds: number[]; labeled: SnapshotLabel[] };

/** The snapshot's labels as objects; `source` is present only where the snapshot kept it (see splitRunLabels). */
export function snapshotLabels(snapshot: RunDataSnapshot, keep: (imageId: number) => boolean = () => true) {
  return snapshot.labeled
    .filter(([imageId]) => keep(imageId))
    .map(([imageId, classIndex, source]) => ({ imageId, classIndex, ...(source !== undefined ? { source } : {}) }));
}

/** Kept in step with worker/handlers/train.ts runDir (lib/ may not import the worker). */
export function runSnapshotPath(runId: number): string {
  return path.join(getEnv().dataDir, "runs", String(runId), "data.json");
}

export function readRunSnapshot(runId: number): RunDataSnapshot | null {
  try {
    return JSON.parse(fs.readFileSync(runSnapshotPath(runId), "utf8")) as RunDataSnapshot;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/**
 * The run's held-out images that a person labels now, with the run's predictions for them; null
 * when the run's data snapshot is gone. The trainer split only the labeled images it could decode;
 * those are the images the run predicted, so the split is taken over those, as the trainer did.
 */
export function loadHeldOutJudgements(db: Db, scope: ProposalScope): JudgedPrediction[] | null {
  const snapshot = readRunSnapshot(scope.runId);
  if (!snapshot) return null;
  const predicted = listPredictedImageIds(db, scope);
  const heldOut = new Set(splitRunLabels(snapshotLabels(snapshot, (id) => predicted.has(id))).heldOut.map((e) => e.imageId));
  return listHumanLabelsWithPredictions(db, scope).filter((r) => heldOut.has(r.imageId));
}

export function estimateFromJudgements(judged: readonly JudgedPrediction[] | null, threshold: number, classIds: readonly number[]): PrecisionEstimate {
  const at = precisionAt(judged ?? [], threshold, classIds);
  const reason =
    judged === null
      ? "the run's data snapshot is missing, so its held-out labels are unknown"
      : judged.length === 0
        ? "the run held out no human labels"
        : at.support === 0
          ? "no held-out human label reaches this threshold"
          : null;
  return { ...at, heldOut: judged?.length ?? 0, reason };
}
