/**
 * Review of a run's proposals: after a run, its predictions for images nobody has labeled are
 * proposals. A person sees them per class, most confident first, and accepts (they become labels
 * with source "accepted_proposal", the model version and its confidence), rejects (remembered, so
 * this model version does not propose that class for that image again), or relabels them (the
 * ordinary human label API). The threshold slider is backed by a curve of how many proposals pass
 * and how precise they were on held-out human labels (precision.ts).
 */
import { z } from "zod";
import type { Db } from "@/lib/db/client";
import { createLabelAction, recordLabelChanges } from "@/lib/db/queries/labels";
import {
  findLatestRunWithPredictions,
  insertRejections,
  listClassIds,
  listOpenProposalConfidences,
  listPredictionsWithLabels,
  listProposalPage,
  type ProposalScope,
} from "@/lib/db/queries/review";
import { getRun } from "@/lib/db/queries/training";
import type { TrainingRunRow } from "@/lib/db/schema";
import { notFound } from "@/lib/errors";
import { CURVE_THRESHOLDS, estimateFromJudgements, loadHeldOutJudgements, precisionAt, type PrecisionCount, type PrecisionEstimate } from "./precision";
import { calibratedSummary } from "./calibrated-precision";

/** FixMatch's own confidence threshold: a sensible place for the slider to start. */
export const DEFAULT_THRESHOLD = 0.95;

export type ReviewRun = { id: number; modelVersion: string };

const runIdField = z.coerce.number().int().positive();
const confidenceField = z.coerce.number().min(0).max(1);

export const proposalsQuery = z.object({
  runId: runIdField.optional(),
  classId: z.coerce.number().int().positive(),
  minConfidence: confidenceField.default(0),
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
  /** "1" adds each image's class probabilities (in the run's class order). */
  probs: z.enum(["0", "1"]).default("0"),
});

export const summaryQuery = z.object({
  runId: runIdField.optional(),
  threshold: confidenceField.default(DEFAULT_THRESHOLD),
});

const imageIdsField = z.array(z.number().int().positive()).min(1, "choose at least one image").max(50_000);

export const acceptInput = z.union([
  z.object({ runId: runIdField, imageIds: imageIdsField }).strict(),
  z.object({ runId: runIdField, classId: z.number().int().positive(), minConfidence: confidenceField }).strict(),
]);

export const rejectInput = z.object({ runId: runIdField, imageIds: imageIdsField }).strict();

/** The run asked for (it must be this project's), else the latest succeeded run with predictions (null if none). */
export function resolveReviewRun(db: Db, projectId: number, runId?: number): TrainingRunRow | null {
  if (runId === undefined) return findLatestRunWithPredictions(db, projectId);
  const run = getRun(db, runId);
  if (run.projectId !== projectId) throw notFound("training run", runId);
  return run;
}

function requireRun(db: Db, projectId: number, runId: number): TrainingRunRow {
  return resolveReviewRun(db, projectId, runId)!;
}

const viewRun = (run: TrainingRunRow): ReviewRun => ({ id: run.id, modelVersion: run.modelVersion });
const scopeOf = (projectId: number, run: TrainingRunRow): ProposalScope => ({ projectId, runId: run.id });

export type ProposalItem = { imageId: number; name: string; width: number; height: number; classId: number; confidence: number; probs?: number[] };

/** One page of a class's open proposals above `minConfidence`, most confident first. */
export function listProposals(db: Db, projectId: number, query: z.input<typeof proposalsQuery>) {
  const q = proposalsQuery.parse(query);
  const run = resolveReviewRun(db, projectId, q.runId);
  if (!run) return { run: null, total: 0, offset: q.offset, items: [] as ProposalItem[] };
  const { total, rows } = listProposalPage(db, { ...scopeOf(projectId, run), classId: q.classId, minConfidence: q.minConfidence, offset: q.offset, limit: q.limit });
  const items: ProposalItem[] = rows.map(({ probs, ...row }) => (q.probs === "1" ? { ...row, probs } : row));
  return { run: viewRun(run), total, offset: q.offset, items };
}

/** Precision of the run's proposals at `threshold`, on its held-out human labels. */
export function estimatePrecision(db: Db, projectId: number, runId: number, threshold: number): PrecisionEstimate {
  const run = requireRun(db, projectId, runId);
  return estimateFromJudgements(loadHeldOutJudgements(db, scopeOf(projectId, run)), threshold, listClassIds(db, projectId));
}

export type CurvePoint = {
  threshold: number;
  /** Open proposals at or above the threshold, in all and per class. */
  passing: number;
  passingByClass: Record<number, number>;
  precision: number | null;
  support: number;
  interval: [number, number] | null;
  byClass: Record<number, PrecisionCount>;
};

/** Count of values >= t in a descending array. */
function countAtLeast(desc: readonly number[], t: number): number {
  let lo = 0;
  let hi = desc.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (desc[mid] >= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Per class, how many open proposals reach `threshold`; the precision estimate there; and the
 * same two at every CURVE_THRESHOLDS point, so the slider can move without asking the server.
 */
export function proposalSummary(db: Db, projectId: number, query: z.input<typeof summaryQuery>) {
  const q = summaryQuery.parse(query);
  const classIds = listClassIds(db, projectId);
  const run = resolveReviewRun(db, projectId, q.runId);
  if (!run) {
    return { run: null, threshold: q.threshold, total: 0, byClass: Object.fromEntries(classIds.map((id) => [id, 0])), precision: estimateFromJudgements([], q.threshold, classIds), curve: [] as CurvePoint[], calibrated: null };
  }
  const scope = scopeOf(projectId, run);
  const confidencesByClass = new Map<number, number[]>(classIds.map((id) => [id, []]));
  // Sorted by confidence, descending: each class's list stays sorted as it is filled.
  const open = listOpenProposalConfidences(db, scope);
  for (const p of open) confidencesByClass.get(p.classId)?.push(p.confidence);
  const passingAt = (t: number) => {
    const byClass: Record<number, number> = {};
    let total = 0;
    for (const [classId, confs] of confidencesByClass) total += byClass[classId] = countAtLeast(confs, t);
    return { total, byClass };
  };
  const judged = loadHeldOutJudgements(db, scope);
  const curve: CurvePoint[] = CURVE_THRESHOLDS.map((t) => {
    const passing = passingAt(t);
    const { precision, support, interval, byClass } = precisionAt(judged ?? [], t, classIds);
    return { threshold: t, passing: passing.total, passingByClass: passing.byClass, precision, support, interval, byClass };
  });
  const at = passingAt(q.threshold);
  const calibrated = calibratedSummary(run.metrics, open, CURVE_THRESHOLDS, classIds);
  return { run: viewRun(run), threshold: q.threshold, total: at.total, byClass: at.byClass, precision: estimateFromJudgements(judged, q.threshold, classIds), curve, calibrated };
}

/**
 * Accepts proposals as labels: the chosen images, or every open proposal of a class at or above
 * a confidence. One label action holds them all (one Z undoes it), recorded per class with each
 * image's own confidence. Images labeled meanwhile, without a prediction in the run, or proposed
 * for a class deleted since are skipped.
 */
export function acceptProposals(db: Db, projectId: number, input: z.input<typeof acceptInput>, actor: string) {
  const parsed = acceptInput.parse(input);
  return db.transaction(() => {
    const run = requireRun(db, projectId, parsed.runId);
    const scope = scopeOf(projectId, run);
    const requested =
      "imageIds" in parsed
        ? [...new Set(parsed.imageIds)]
        : listOpenProposalConfidences(db, scope, parsed.classId, parsed.minConfidence).map((p) => p.imageId);
    const liveClasses = new Set(listClassIds(db, projectId));
    const acceptable = listPredictionsWithLabels(db, scope, requested).filter((p) => p.labelClassId === null && liveClasses.has(p.topClassId));
    if (acceptable.length === 0) return { accepted: 0, skipped: requested.length, actionId: null };
    const actionId = createLabelAction(db, projectId, "accept", actor);
    const byClass = new Map<number, typeof acceptable>();
    for (const p of acceptable) {
      const group = byClass.get(p.topClassId);
      if (group) group.push(p);
      else byClass.set(p.topClassId, [p]);
    }
    let accepted = 0;
    for (const [classId, group] of byClass) {
      accepted += recordLabelChanges(db, {
        projectId,
        imageIds: group.map((p) => p.imageId),
        classId,
        source: "accepted_proposal",
        actor,
        kind: "accept",
        actionId,
        modelVersion: run.modelVersion,
        confidenceByImage: new Map(group.map((p) => [p.imageId, p.confidence])),
      }).changed;
    }
    return { accepted, skipped: requested.length - accepted, actionId };
  });
}

/** Remembers that these images are not what the run proposed, so this model version stops proposing them. */
export function rejectProposals(db: Db, projectId: number, input: z.input<typeof rejectInput>, actor: string) {
  const parsed = rejectInput.parse(input);
  return db.transaction(() => {
    const run = requireRun(db, projectId, parsed.runId);
    const liveClasses = new Set(listClassIds(db, projectId));
    const rows = listPredictionsWithLabels(db, scopeOf(projectId, run), [...new Set(parsed.imageIds)])
      .filter((p) => liveClasses.has(p.topClassId))
      .map((p) => ({ projectId, imageId: p.imageId, classId: p.topClassId, modelVersion: p.modelVersion, actor }));
    return { rejected: insertRejections(db, rows) };
  });
}
