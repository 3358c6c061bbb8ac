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
  listProposalRows,
  type ProposalScope,
} from "@/lib/db/queries/review";
import { getRun } from "@/lib/db/queries/training";
import type { TrainingRunRow } from "@/lib/db/schema";
import { describeBackbone } from "@/lib/ml/backbones/sources";
import type { TrainConfig } from "@/lib/ml/config";
import { findEarlierAuditedModelVersion, listAuditAnswers, upsertAuditAnswers } from "@/lib/db/queries/audits";
import { getProject } from "@/lib/db/queries/projects";
import { badRequest, conflict, notFound } from "@/lib/errors";
import { auditRank, chooseClassThreshold, gateFor, sampleSizeFor, type AuditAnswer, type Gate } from "./audit";
import { minSampleForTarget } from "./intervals";
import { CURVE_THRESHOLDS, estimateFromJudgements, loadHeldOutJudgements, precisionAt, type PrecisionCount, type PrecisionEstimate } from "./precision";
import { calibratedSummary } from "./calibrated-precision";

/** FixMatch's own confidence threshold: a sensible place for the slider to start. */
export const DEFAULT_THRESHOLD = 0.95;

export type ReviewRun = { id: number; modelVersion: string; madeBy: string };

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
  /** Chosen images, each looked at by a person: not gated. */
  z.object({ runId: runIdField, imageIds: imageIdsField }).strict(),
  /** A class's proposals at or above minConfidence: only through the audit gate, or with override (logged). */
  z.object({ runId: runIdField, classId: z.number().int().positive(), minConfidence: confidenceField, override: z.boolean().default(false) }).strict(),
  /** Every class at its own audited threshold (chooseClassThreshold); classes without one are left. */
  z.object({ runId: runIdField, perClass: z.literal(true) }).strict(),
]);

export const auditSampleQuery = z.object({
  runId: runIdField.optional(),
  threshold: confidenceField.default(DEFAULT_THRESHOLD),
  /** One class, or every class (stratified: each class gets its own sample). */
  classId: z.coerce.number().int().positive().optional(),
  /** Per class; default: what reaching the target still takes, at most one full sample. */
  size: z.coerce.number().int().min(1).max(1000).optional(),
  seed: z.coerce.number().int().min(0).default(0),
});

export const auditAnswersInput = z
  .object({
    runId: runIdField,
    /** The threshold the sample was drawn at. */
    floor: confidenceField,
    /** classId: the right class, the proposed one when the proposal was right. */
    answers: z.array(z.object({ imageId: z.number().int().positive(), classId: z.number().int().positive() }).strict()).min(1, "answer at least one image").max(5000),
  })
  .strict();

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

const HEAD_NAMES = { fixmatch: "a FixMatch head", "linear-probe": "a linear probe", "class-mean": "a nearest class mean" } as const;

/**
 * Which model made a run's proposals, in words: the network trained from scratch, the fine-tuned
 * backbone, or for a frozen backbone the head that won on held-out human labels (metrics.headKind).
 */
export function describeProposer(run: Pick<TrainingRunRow, "config" | "metrics">): string {
  const train = (run.config as { train?: Partial<TrainConfig> } | null)?.train;
  if (!train?.backbone) return "a network trained from scratch";
  const backbone = describeBackbone(train.backbone);
  if (train.backboneMode === "finetune") return `${backbone}, fine-tuned`;
  const headKind = (run.metrics as { headKind?: keyof typeof HEAD_NAMES } | null)?.headKind;
  return `${headKind ? HEAD_NAMES[headKind] : "a head"} on ${backbone} features`;
}

export const viewRun = (run: TrainingRunRow): ReviewRun => ({ id: run.id, modelVersion: run.modelVersion, madeBy: describeProposer(run) });
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

/** What the gate needs about a run: the project's target, the run's audit answers per proposed class, and an earlier audited model. */
function auditContext(db: Db, projectId: number, run: TrainingRunRow) {
  const target = getProject(db, projectId).targetPrecision;
  const answersByClass = new Map<number, AuditAnswer[]>();
  const answers = listAuditAnswers(db, run.id);
  for (const a of answers) {
    const list = answersByClass.get(a.classId);
    const answer = { classId: a.classId, confidence: a.confidence, floor: a.floor, correct: a.correct };
    if (list) list.push(answer);
    else answersByClass.set(a.classId, [answer]);
  }
  const earlier = findEarlierAuditedModelVersion(db, projectId, run.id);
  const gate = (classId: number, threshold: number): Gate => {
    const own = answersByClass.get(classId) ?? [];
    return gateFor(own, threshold, target, own.length === 0 ? earlier : null);
  };
  return { target, answers, answersByClass, earlier, gate };
}

/** The gate of one class of a run at a threshold, as the server enforces it. */
export function proposalGate(db: Db, projectId: number, runId: number, classId: number, threshold: number): Gate {
  return auditContext(db, projectId, requireRun(db, projectId, runId)).gate(classId, threshold);
}

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
    const target = getProject(db, projectId).targetPrecision;
    return {
      run: null,
      threshold: q.threshold,
      total: 0,
      byClass: Object.fromEntries(classIds.map((id) => [id, 0])),
      precision: estimateFromJudgements([], q.threshold, classIds),
      curve: [] as CurvePoint[],
      calibrated: null,
      audit: { target, required: minSampleForTarget(target), answers: [] as AuditAnswer[], staleModelVersion: null as string | null, classThresholds: {} as Record<number, Gate | null> },
    };
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
  // The page recomputes each class's gate from these answers as the slider moves (lib/review/audit.ts gateFor).
  const audit = auditContext(db, projectId, run);
  const classThresholds: Record<number, Gate | null> = {};
  for (const classId of classIds) classThresholds[classId] = chooseClassThreshold(audit.answersByClass.get(classId) ?? [], audit.target, CURVE_THRESHOLDS);
  return {
    run: viewRun(run),
    threshold: q.threshold,
    total: at.total,
    byClass: at.byClass,
    precision: estimateFromJudgements(judged, q.threshold, classIds),
    curve,
    calibrated: calibratedSummary(run.metrics, open, CURVE_THRESHOLDS, classIds),
    audit: {
      target: audit.target,
      required: minSampleForTarget(audit.target),
      answers: audit.answers.map(({ classId, confidence, floor, correct }) => ({ classId, confidence, floor, correct })),
      staleModelVersion: audit.answers.length === 0 ? audit.earlier : null,
      classThresholds,
    },
  };
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
    let requested: number[];
    let via: "gate" | "override" | null = null;
    if ("imageIds" in parsed) {
      requested = [...new Set(parsed.imageIds)];
    } else if ("classId" in parsed) {
      // The gate, enforced here and not only by the page's button: bulk accepts need an audit that
      // shows the target precision, or an explicit override that the labels then carry.
      const gate = auditContext(db, projectId, run).gate(parsed.classId, parsed.minConfidence);
      if (!gate.open && !parsed.override) {
        throw conflict(`accept all is closed for this class at ${parsed.minConfidence}: ${gate.message}; audit a sample, or send override: true`, { gate });
      }
      via = gate.open ? "gate" : "override";
      requested = listOpenProposalConfidences(db, scope, parsed.classId, parsed.minConfidence).map((p) => p.imageId);
    } else {
      const audit = auditContext(db, projectId, run);
      via = "gate";
      requested = listClassIds(db, projectId).flatMap((classId) => {
        const chosen = chooseClassThreshold(audit.answersByClass.get(classId) ?? [], audit.target, CURVE_THRESHOLDS);
        return chosen ? listOpenProposalConfidences(db, scope, classId, chosen.threshold).map((p) => p.imageId) : [];
      });
    }
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
        via,
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

export type AuditItem = ProposalItem & { rank: number };

/**
 * "Check a sample": per class (stratified), a seeded random sample of the open proposals at or
 * above the threshold (auditRank order), as many as the class's gate still needs (sampleSizeFor)
 * unless `size` says otherwise. The same query gives the same sample until it is answered.
 */
export function auditSample(db: Db, projectId: number, query: z.input<typeof auditSampleQuery>) {
  const q = auditSampleQuery.parse(query);
  const run = resolveReviewRun(db, projectId, q.runId);
  if (!run) return { run: null, floor: q.threshold, items: [] as AuditItem[], byClass: {} as Record<number, { size: number; open: number; gate: Gate | null }> };
  const classIds = q.classId === undefined ? listClassIds(db, projectId) : [q.classId];
  const audit = auditContext(db, projectId, run);
  const scope = scopeOf(projectId, run);
  const items: AuditItem[] = [];
  const byClass: Record<number, { size: number; open: number; gate: Gate | null }> = {};
  for (const classId of classIds) {
    const gate = audit.gate(classId, q.threshold);
    const open = listOpenProposalConfidences(db, scope, classId, q.threshold);
    const size = Math.min(open.length, q.size ?? sampleSizeFor(gate));
    const picked = open
      .map((p) => ({ imageId: p.imageId, rank: auditRank(p.imageId, run.id, q.seed) }))
      .sort((a, b) => a.rank - b.rank || a.imageId - b.imageId)
      .slice(0, size);
    byClass[classId] = { size, open: open.length, gate };
    if (picked.length === 0) continue;
    const rankOf = new Map(picked.map((p) => [p.imageId, p.rank]));
    for (const row of listProposalRows(db, scope, picked.map((p) => p.imageId))) items.push({ ...row, rank: rankOf.get(row.imageId)! });
  }
  items.sort((a, b) => a.rank - b.rank || a.imageId - b.imageId);
  return { run: viewRun(run), floor: q.threshold, target: audit.target, items, byClass };
}

/**
 * A person's answers to an audit sample: each is a human label (source human, via "audit") and a
 * verdict on the proposal (right when the answer is the proposed class). One label action holds the
 * batch, so Z undoes it, answers included. Skipped: images the run did not propose at or above the
 * floor, and images labeled meanwhile other than by an earlier answer of this audit.
 */
export function answerAudit(db: Db, projectId: number, input: z.input<typeof auditAnswersInput>, actor: string) {
  const parsed = auditAnswersInput.parse(input);
  return db.transaction(() => {
    const run = requireRun(db, projectId, parsed.runId);
    const scope = scopeOf(projectId, run);
    const liveClasses = new Set(listClassIds(db, projectId));
    const bad = parsed.answers.find((a) => !liveClasses.has(a.classId));
    if (bad) throw badRequest(`class ${bad.classId} is not a class of this project`, { field: "answers.classId" });
    const answerOf = new Map(parsed.answers.map((a) => [a.imageId, a.classId]));
    const auditedBefore = new Set(listAuditAnswers(db, run.id).map((a) => a.imageId));
    const usable = listPredictionsWithLabels(db, scope, [...answerOf.keys()]).filter(
      (p) => p.confidence >= parsed.floor - 1e-9 && liveClasses.has(p.topClassId) && (p.labelClassId === null || auditedBefore.has(p.imageId)),
    );
    if (usable.length === 0) return { answered: 0, correct: 0, skipped: answerOf.size, actionId: null };
    const actionId = createLabelAction(db, projectId, "set", actor);
    const byAnswer = new Map<number, number[]>();
    for (const p of usable) {
      const classId = answerOf.get(p.imageId)!;
      byAnswer.set(classId, [...(byAnswer.get(classId) ?? []), p.imageId]);
    }
    for (const [classId, imageIds] of byAnswer) {
      recordLabelChanges(db, { projectId, imageIds, classId, source: "human", actor, kind: "set", actionId, via: "audit" });
    }
    upsertAuditAnswers(
      db,
      usable.map((p) => ({
        projectId,
        runId: run.id,
        modelVersion: run.modelVersion,
        imageId: p.imageId,
        proposedClassId: p.topClassId,
        confidence: p.confidence,
        floor: parsed.floor,
        answerClassId: answerOf.get(p.imageId)!,
        correct: answerOf.get(p.imageId) === p.topClassId,
        labelActionId: actionId,
        actor,
      })),
    );
    const correct = usable.filter((p) => answerOf.get(p.imageId) === p.topClassId).length;
    return { answered: usable.length, correct, skipped: answerOf.size - usable.length, actionId };
  });
}
