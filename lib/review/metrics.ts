/**
 * The model page's numbers for one model version (one training run):
 *
 *   - held-out accuracy, per-class precision and recall, and the confusion matrix, on the human
 *     labels the run held out (the trainer's split, reproduced as precision.ts does: the same
 *     splitRunLabels over the same data snapshot; accepted proposals are never held out); the
 *     truth is the label a person gives them now; every share is a Proportion (n and interval);
 *   - the labels it trained on, by source (human / imported / accepted proposal) as they were when
 *     the run started: the snapshot says which images and classes, the label history says where
 *     each label came from at that moment; and the whole labeled set it started from (those plus
 *     the ones it held out), so a later run shows the proposals accepted in between;
 *   - how reviewers received its proposals: accepted / (accepted + rejected).
 *
 * Two versions side by side each use their own held-out set, which differ when labels were added
 * in between; the comparison also scores both on the images both held out, a like-for-like figure.
 */
import type { Db } from "@/lib/db/client";
import { countAcceptedProposals, countRejectedProposals, listLabelSourceHistory } from "@/lib/db/queries/insights";
import { listPredictedImageIds } from "@/lib/db/queries/review";
import { getRun } from "@/lib/db/queries/training";
import { LABEL_SOURCES, type LabelSource, type TrainingRunRow } from "@/lib/db/schema";
import { badRequest } from "@/lib/errors";
import { proportion, splitRunLabels, trainerHeldOutAccuracy, type Proportion } from "./ground-truth";
import { loadHeldOutJudgements, readRunSnapshot, snapshotLabels, type JudgedPrediction } from "./precision";
import { runCalibration } from "./calibrated-precision";
import type { StoredCalibration } from "@/lib/ml/calibration";

export type ClassMetrics = {
  classId: number;
  /** Of the held-out images predicted as this class, the share labeled so (n = predicted). */
  precision: Proportion;
  /** Of the held-out images labeled this class, the share predicted so (n = support). */
  recall: Proportion;
  /** Held-out images labeled this class. */
  support: number;
  /** Held-out images predicted as this class. */
  predicted: number;
};

export type HeldOutMetrics = {
  n: number;
  correct: number;
  accuracy: Proportion;
  /** Row and column order of the matrix: the run's classes. */
  classIds: number[];
  /** confusion[i][j]: held-out images labeled classIds[i] that the model predicted as classIds[j]. */
  confusion: number[][];
  byClass: ClassMetrics[];
};

const share = (part: number, whole: number) => (whole === 0 ? null : part / whole);

/** Accuracy, confusion matrix and per-class precision / recall. Judgements of classes outside `classIds` are left out. */
export function heldOutMetrics(judged: readonly JudgedPrediction[], classIds: readonly number[]): HeldOutMetrics {
  const indexOf = new Map(classIds.map((id, i) => [id, i]));
  const confusion = classIds.map(() => classIds.map(() => 0));
  let n = 0;
  let correct = 0;
  for (const j of judged) {
    const truth = indexOf.get(j.labelClassId);
    const guess = indexOf.get(j.topClassId);
    if (truth === undefined || guess === undefined) continue;
    confusion[truth][guess]++;
    n++;
    if (truth === guess) correct++;
  }
  const byClass = classIds.map((classId, i) => {
    const support = confusion[i].reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + row[i], 0);
    return { classId, precision: proportion(confusion[i][i], predicted), recall: proportion(confusion[i][i], support), support, predicted };
  });
  return { n, correct, accuracy: proportion(correct, n), classIds: [...classIds], confusion, byClass };
}

export type SourceCounts = Record<LabelSource, number> & {
  /** Images whose source could not be found in the history (should not happen; shown if it does). */
  unknown: number;
  total: number;
};

/**
 * The source each of `imageIds` had at `cutoff`, counted: replays the label history (oldest first;
 * only each image's own order matters), keeping per image the last change made at or before the cutoff.
 */
export function countSourcesAt(
  imageIds: readonly number[],
  history: readonly { imageId: number; source: LabelSource | null; createdAt: number }[],
  cutoff: number,
): SourceCounts {
  const wanted = new Set(imageIds);
  const sourceOf = new Map<number, LabelSource | null>();
  for (const ev of history) if (ev.createdAt <= cutoff && wanted.has(ev.imageId)) sourceOf.set(ev.imageId, ev.source);
  const counts: SourceCounts = { human: 0, imported: 0, accepted_proposal: 0, unknown: 0, total: imageIds.length };
  for (const id of imageIds) {
    const source = sourceOf.get(id);
    if (source && (LABEL_SOURCES as readonly string[]).includes(source)) counts[source]++;
    else counts.unknown++;
  }
  return counts;
}

export type ProposalReception = { accepted: number; rejected: number; acceptanceRate: number | null };

export function proposalReception(accepted: number, rejected: number): ProposalReception {
  return { accepted, rejected, acceptanceRate: share(accepted, accepted + rejected) };
}

export type ModelMetrics = {
  run: {
    id: number;
    projectId: number;
    modelVersion: string;
    mode: string;
    status: string;
    createdAt: number;
    startedAt: number | null;
    finishedAt: number | null;
    /** What the trainer measured on its held-out human labels at the end (EMA model, before any label changed); null with a reason for runs whose held-out set was not human-only. */
    trainerHeldOut: Proportion | null;
    trainerHeldOutReason: string | null;
  };
  classIds: number[];
  heldOut: HeldOutMetrics | null;
  /** Why heldOut is null or empty, when it is. */
  heldOutReason: string | null;
  /** Labels the run trained on (its held-out ones excluded), by source when it started; null without a snapshot. */
  trainedOn: SourceCounts | null;
  /** Labeled images it held out of training. */
  heldOutLabels: number | null;
  /** Every labeled image the run started from (trained on and held out), by source when it started; null without a snapshot. */
  startedFrom: SourceCounts | null;
  proposals: ProposalReception;
  /** Temperature scaling fitted after predict on held-out human labels, with the reliability before / after; null for runs predicted before it existed. */
  calibration: StoredCalibration | null;
};

function viewRun(run: TrainingRunRow): ModelMetrics["run"] {
  const trainer = trainerHeldOutAccuracy(run.metrics);
  return {
    id: run.id,
    projectId: run.projectId,
    modelVersion: run.modelVersion,
    mode: run.mode,
    status: run.status,
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    trainerHeldOut: trainer.accuracy,
    trainerHeldOutReason: trainer.reason,
  };
}

/** The run's class order: from its config once the worker resolved it, else from its snapshot. */
function runClassIds(run: TrainingRunRow): number[] {
  return (run.config as { classIds?: number[] }).classIds ?? readRunSnapshot(run.id)?.classIds ?? [];
}

/** Everything the model page shows for one run, plus its held-out judgements (for comparisons). */
function computeRunMetrics(db: Db, run: TrainingRunRow): { metrics: ModelMetrics; judged: JudgedPrediction[] | null } {
  const scope = { projectId: run.projectId, runId: run.id };
  const classIds = runClassIds(run);
  const snapshot = readRunSnapshot(run.id);
  const predicted = listPredictedImageIds(db, scope);
  const judged = predicted.size > 0 ? loadHeldOutJudgements(db, scope) : null;
  const heldOut = judged ? heldOutMetrics(judged, classIds) : null;
  const heldOutReason =
    predicted.size === 0
      ? "the run has no predictions (it did not finish, or its predict job has not run)"
      : judged === null
        ? "the run's data snapshot is missing, so its held-out labels are unknown"
        : heldOut!.n === 0
          ? "none of the run's held-out images carries a human label now"
          : null;

  let trainedOn: SourceCounts | null = null;
  let heldOutLabels: number | null = null;
  let startedFrom: SourceCounts | null = null;
  if (snapshot) {
    // The trainer split the labeled images it could decode, which are the ones it predicted; with
    // no predictions yet, every snapshot label stands in for them.
    const labeled = snapshotLabels(snapshot, (imageId) => predicted.size === 0 || predicted.has(imageId));
    const split = splitRunLabels(labeled);
    heldOutLabels = split.heldOut.length;
    const history = listLabelSourceHistory(db, run.projectId, labeled.map((e) => e.imageId));
    const cutoff = run.startedAt ?? run.createdAt;
    trainedOn = countSourcesAt(split.train.map((e) => e.imageId), history, cutoff);
    startedFrom = countSourcesAt(labeled.map((e) => e.imageId), history, cutoff);
  }

  const proposals = proposalReception(countAcceptedProposals(db, run.projectId, run.modelVersion), countRejectedProposals(db, run.projectId, run.modelVersion));
  return { metrics: { run: viewRun(run), classIds, heldOut, heldOutReason, trainedOn, heldOutLabels, startedFrom, proposals, calibration: runCalibration(run.metrics) }, judged };
}

export function getModelMetrics(db: Db, runId: number): ModelMetrics {
  return computeRunMetrics(db, getRun(db, runId)).metrics;
}

export type SharedHeldOut = {
  /** Images both runs held out that a person labels now. */
  n: number;
  accuracyA: Proportion;
  accuracyB: Proportion;
};

/** Accuracy of each run on the held-out images they share: neither trained on them, so the figures compare directly. */
export function sharedHeldOutAccuracy(a: readonly JudgedPrediction[], b: readonly JudgedPrediction[]): SharedHeldOut {
  const inB = new Map(b.map((j) => [j.imageId, j]));
  let n = 0;
  let rightA = 0;
  let rightB = 0;
  for (const ja of a) {
    const jb = inB.get(ja.imageId);
    if (!jb) continue;
    n++;
    if (ja.topClassId === ja.labelClassId) rightA++;
    if (jb.topClassId === jb.labelClassId) rightB++;
  }
  return { n, accuracyA: proportion(rightA, n), accuracyB: proportion(rightB, n) };
}

/** Two versions of the same project, side by side. */
export function compareModels(db: Db, runIdA: number, runIdB: number): { a: ModelMetrics; b: ModelMetrics; shared: SharedHeldOut } {
  const runA = getRun(db, runIdA);
  const runB = getRun(db, runIdB);
  if (runA.projectId !== runB.projectId) throw badRequest("the two runs belong to different projects", { runIdA, runIdB });
  const a = computeRunMetrics(db, runA);
  const b = computeRunMetrics(db, runB);
  return { a: a.metrics, b: b.metrics, shared: sharedHeldOutAccuracy(a.judged ?? [], b.judged ?? []) };
}
