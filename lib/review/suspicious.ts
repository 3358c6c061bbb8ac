/**
 * Suspicious labels: labeled images that the current model confidently contradicts, for a second
 * look, in the spirit of confident learning (Northcutt et al., "Confident learning: estimating
 * uncertainty in dataset labels").
 *
 * Confident learning does not trust one global threshold, because models are more sure of some
 * classes than others. The threshold of class c is the model's average self-confidence on class c:
 * the mean of p(c) over the images labeled c. An image labeled L is flagged when the model's top
 * class Y differs from L and p(Y) reaches Y's threshold: the model is as sure it is a Y as it
 * typically is about images that really are Ys. Flags are listed most confident first.
 *
 * Thresholds are computed over every labeled image the run predicted (all sources: they are the
 * noisy labels CL estimates from); flags are shown for human and accepted labels by default, as
 * imported folder names are often the very labels one wants to check, they can be asked for too.
 *
 * The judge of a label must not have trained on it: the run trained on most of these labels,
 * which pulls its predictions toward them (a wrong accepted proposal is "confirmed" by the model
 * that proposed it). So the probabilities are OUT OF FOLD (out-of-fold.ts: k-fold softmax heads on
 * the run's embeddings, written by the predict job); a label added after the run is judged by the
 * run itself, which never saw it. Runs predicted before that fall back to the run's own
 * predictions, and the page says so.
 *
 * A person who looks and keeps the label dismisses the flag for that model version (and that
 * label class): the next model gets its own say.
 */
import { z } from "zod";
import type { Db } from "@/lib/db/client";
import { deleteDismissals, insertDismissals, listDismissedKeys, listImageInfo, listLabeledPredictions } from "@/lib/db/queries/insights";
import { LABEL_SOURCES, type LabelSource } from "@/lib/db/schema";
import { runDir } from "@/lib/ml/export";
import { readOutOfFold } from "./out-of-fold";
import { resolveReviewRun, viewRun, type ReviewRun } from "./proposals";

const DEFAULT_SOURCES: LabelSource[] = ["human", "accepted_proposal"];

export const suspiciousQuery = z.object({
  runId: z.coerce.number().int().positive().optional(),
  /** Comma-separated label sources to flag, e.g. "human,accepted_proposal,imported". */
  sources: z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (!s) return DEFAULT_SOURCES;
      const list = s.split(",").map((x) => x.trim());
      const bad = list.filter((x) => !(LABEL_SOURCES as readonly string[]).includes(x));
      if (bad.length) {
        ctx.addIssue({ code: "custom", message: `unknown label source ${bad.join(", ")}` });
        return z.NEVER;
      }
      return list as LabelSource[];
    }),
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(500),
});

export const dismissInput = z
  .object({ runId: z.number().int().positive(), imageIds: z.array(z.number().int().positive()).min(1).max(10_000) })
  .strict();

export type LabeledPrediction = { imageId: number; labelClassId: number; labelSource: LabelSource; probs: readonly number[] };

/** Whose probabilities judged a label: out-of-fold heads, or the run itself (for labels it did not train on, or old runs). */
export type JudgedBy = "out-of-fold" | "model";

/** Per class id, the mean probability the model gives that class on the images labeled with it (absent: no such image). */
export function selfConfidenceThresholds(rows: readonly LabeledPrediction[], classIds: readonly number[]): Map<number, number> {
  const indexOf = new Map(classIds.map((id, i) => [id, i]));
  const sums = new Map<number, { sum: number; n: number }>();
  for (const r of rows) {
    const i = indexOf.get(r.labelClassId);
    if (i === undefined) continue;
    const s = sums.get(r.labelClassId) ?? { sum: 0, n: 0 };
    s.sum += r.probs[i];
    s.n++;
    sums.set(r.labelClassId, s);
  }
  return new Map([...sums].map(([classId, s]) => [classId, s.sum / s.n]));
}

export type SuspiciousFlag = {
  imageId: number;
  labelClassId: number;
  labelSource: LabelSource;
  suggestedClassId: number;
  /** p(suggested class). */
  confidence: number;
  /** The suggested class's threshold it reached. */
  threshold: number;
  /** What the model gives the current label. */
  labelProb: number;
  judgedBy?: JudgedBy;
};

/**
 * The labels the model contradicts at or above the suggested class's threshold, most confident
 * first (ties: lower image id). Labels of classes the run did not know are left out: it cannot judge them.
 */
export function findSuspicious(rows: readonly LabeledPrediction[], classIds: readonly number[], thresholds: ReadonlyMap<number, number>): SuspiciousFlag[] {
  const indexOf = new Map(classIds.map((id, i) => [id, i]));
  const flags: SuspiciousFlag[] = [];
  for (const r of rows) {
    const labelIndex = indexOf.get(r.labelClassId);
    if (labelIndex === undefined) continue;
    let top = 0;
    for (let i = 1; i < r.probs.length; i++) if (r.probs[i] > r.probs[top]) top = i;
    const suggested = classIds[top];
    const threshold = thresholds.get(suggested);
    if (suggested === r.labelClassId || threshold === undefined || r.probs[top] < threshold) continue;
    flags.push({
      imageId: r.imageId,
      labelClassId: r.labelClassId,
      labelSource: r.labelSource,
      suggestedClassId: suggested,
      confidence: r.probs[top],
      threshold,
      labelProb: r.probs[labelIndex],
    });
  }
  return flags.sort((a, b) => b.confidence - a.confidence || a.imageId - b.imageId);
}

export type SuspiciousItem = SuspiciousFlag & { name: string; width: number; height: number };

export type SuspiciousPage = {
  run: ReviewRun | null;
  total: number;
  offset: number;
  /** Per class id, the self-confidence threshold (classes without labeled predictions are absent). */
  thresholds: Record<number, number>;
  /** How the labels were judged: out of fold, or (older runs) in-sample by the run that trained on them. */
  method: { outOfFold: boolean; description: string };
  /** Per label class id: accepted proposals labeled so, and how many of them are under suspicion (dismissed ones excluded). */
  acceptedByClass: Record<number, { accepted: number; suspicious: number }>;
  items: SuspiciousItem[];
};

/** Each row's probabilities replaced by its out-of-fold ones where there are some. */
export function judgeOutOfFold(rows: readonly LabeledPrediction[], probsOf: ReadonlyMap<number, readonly number[]> | null): (LabeledPrediction & { judgedBy: JudgedBy })[] {
  return rows.map((r) => {
    const oof = probsOf?.get(r.imageId);
    return oof ? { ...r, probs: oof, judgedBy: "out-of-fold" as const } : { ...r, judgedBy: "model" as const };
  });
}

/** Per label class: accepted proposals, and how many of them the flags hold. */
export function acceptedUnderSuspicion(rows: readonly LabeledPrediction[], flags: readonly SuspiciousFlag[]): Record<number, { accepted: number; suspicious: number }> {
  const out: Record<number, { accepted: number; suspicious: number }> = {};
  for (const r of rows) if (r.labelSource === "accepted_proposal") (out[r.labelClassId] ??= { accepted: 0, suspicious: 0 }).accepted++;
  for (const f of flags) if (f.labelSource === "accepted_proposal") (out[f.labelClassId] ??= { accepted: 0, suspicious: 0 }).suspicious++;
  return out;
}

/** A page of the run's suspicious labels (the latest run's, unless one is asked for), without those kept for it. */
export function listSuspiciousLabels(db: Db, projectId: number, query: z.input<typeof suspiciousQuery>): SuspiciousPage {
  const q = suspiciousQuery.parse(query);
  const run = resolveReviewRun(db, projectId, q.runId);
  if (!run) return { run: null, total: 0, offset: q.offset, thresholds: {}, method: { outOfFold: false, description: "no run" }, acceptedByClass: {}, items: [] };
  const { classIds } = run.config as { classIds: number[] };
  const oof = readOutOfFold(runDir(run.id));
  const rows = judgeOutOfFold(listLabeledPredictions(db, { projectId, runId: run.id }), oof?.probsOf ?? null);
  const thresholds = selfConfidenceThresholds(rows, classIds);
  const sources = new Set(q.sources);
  const dismissed = listDismissedKeys(db, projectId, run.modelVersion);
  const open = rows.filter((r) => !dismissed.has(`${r.imageId}:${r.labelClassId}`));
  const allFlags = findSuspicious(open, classIds, thresholds);
  const judgedBy = new Map(rows.map((r) => [r.imageId, r.judgedBy]));
  const flags = allFlags.filter((f) => sources.has(f.labelSource)).map((f) => ({ ...f, judgedBy: judgedBy.get(f.imageId) }));
  const method = oof
    ? { outOfFold: true, description: `judged out of fold: ${oof.method}; labels added after the run by the run itself` }
    : { outOfFold: false, description: "judged by the run that trained on these labels (it predicted before out-of-fold judging existed): wrong labels it learned are missed; retrain to judge out of fold" };
  const page = flags.slice(q.offset, q.offset + q.limit);
  const info = new Map(listImageInfo(db, projectId, page.map((f) => f.imageId)).map((i) => [i.id, i]));
  return {
    run: viewRun(run),
    total: flags.length,
    offset: q.offset,
    thresholds: Object.fromEntries(thresholds),
    method,
    acceptedByClass: acceptedUnderSuspicion(open, allFlags),
    items: page.flatMap((f) => {
      const image = info.get(f.imageId);
      return image ? [{ ...f, name: image.name, width: image.width, height: image.height }] : [];
    }),
  };
}

function requireRunFor(db: Db, projectId: number, runId: number) {
  // resolveReviewRun with an id throws not_found for another project's run, never returns null.
  return resolveReviewRun(db, projectId, runId)!;
}

/** "Keep": the labels of these images stay, and this model version stops flagging them (for their current class). */
export function dismissSuspicious(db: Db, projectId: number, input: z.input<typeof dismissInput>, actor: string) {
  const { runId, imageIds } = dismissInput.parse(input);
  const run = requireRunFor(db, projectId, runId);
  const wanted = new Set(imageIds);
  const rows = listLabeledPredictions(db, { projectId, runId: run.id })
    .filter((r) => wanted.has(r.imageId))
    .map((r) => ({ projectId, imageId: r.imageId, classId: r.labelClassId, modelVersion: run.modelVersion, actor }));
  return { dismissed: insertDismissals(db, rows) };
}

/** Undo of "keep": the model version flags these images again. */
export function restoreSuspicious(db: Db, projectId: number, input: z.input<typeof dismissInput>) {
  const { runId, imageIds } = dismissInput.parse(input);
  const run = requireRunFor(db, projectId, runId);
  return { restored: deleteDismissals(db, projectId, run.modelVersion, [...new Set(imageIds)]) };
}
