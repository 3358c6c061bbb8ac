/**
 * Ground truth is human, and a figure is never shown without how much evidence it rests on.
 *
 * - The held-out split (splitRunLabels) holds out ONLY labels a person gave (HUMAN_LABEL_SOURCES):
 *   imported labels and accepted proposals always go to training, so a model is never scored on
 *   its own (or an earlier model's) proposals, and labels a run trained on never count.
 * - Every share measured on them (accuracy, precision, recall) travels as a Proportion: k of n,
 *   the 95% Wilson interval, and whether n reaches MIN_EVIDENCE_N. Below it the UI says
 *   "not enough labels (n=3)" instead of a percentage.
 *
 * No tfjs and no database here: the worker, the web server and the UI share it.
 */
import { HUMAN_LABEL_SOURCES, type LabelSource } from "@/lib/db/schema";
import { splitHeldOut } from "@/lib/ml/heldout";
import { proportion, type Proportion } from "./evidence";

export { formatProportion, MIN_EVIDENCE_N, proportion, wilsonInterval, type Proportion } from "./evidence";

export const isHumanSource = (source: string | null | undefined): boolean =>
  source !== null && source !== undefined && (HUMAN_LABEL_SOURCES as readonly string[]).includes(source);


/**
 * A run's labeled images as the trainer snapshots them: [imageId, classIndex, source]. Snapshots
 * taken before sources were recorded have no third element (legacy; see splitRunLabels).
 */
export type SnapshotLabel = [imageId: number, classIndex: number, source?: LabelSource | null];

/**
 * Train / held-out split of a run's labels. Held out: per class, splitHeldOut's stable-hash share
 * of the HUMAN labels only; everything else trains. A legacy snapshot (no sources) is split the way
 * it was trained (over all labels) so a resumed run keeps its split; its held-out images are then
 * judged only where a person labels them now (precision.ts), and the trainer's own figure for it
 * is not shown (it may have been measured on accepted proposals).
 */
export function splitRunLabels<T extends { imageId: number; classIndex: number; source?: string | null }>(
  labeled: readonly T[],
): { train: T[]; heldOut: T[]; humanOnly: boolean } {
  const humanOnly = labeled.length === 0 || labeled.some((e) => e.source !== undefined);
  if (!humanOnly) return { ...splitHeldOut(labeled), humanOnly };
  const human = labeled.filter((e) => isHumanSource(e.source));
  const split = splitHeldOut(human);
  const heldOut = new Set(split.heldOut);
  return { train: labeled.filter((e) => !heldOut.has(e)), heldOut: split.heldOut, humanOnly };
}

/** What the worker stores in a run's metrics (worker/handlers/train.ts). */
export type StoredRunMetrics = {
  step?: number;
  heldOutAcc?: number | null;
  heldOutCorrect?: number | null;
  heldOutImages?: number;
  trainLabeled?: number;
  /** "human": held out from human labels only; absent or "legacy": from every label, accepted proposals included. */
  heldOutBasis?: "human" | "legacy";
};

/**
 * The trainer's own held-out accuracy of a run as a Proportion, or why it is not shown: a run
 * whose held-out set could hold accepted proposals measured the model on its own guesses.
 */
export function trainerHeldOutAccuracy(metrics: unknown): { accuracy: Proportion | null; reason: string | null } {
  const m = (metrics ?? {}) as StoredRunMetrics;
  if (m.heldOutBasis !== "human") {
    return m.heldOutAcc === undefined || m.heldOutAcc === null
      ? { accuracy: null, reason: "not measured" }
      : { accuracy: null, reason: "not shown: this run held out labels that may be accepted proposals (trained before held-out sets were human-only)" };
  }
  const n = m.heldOutImages ?? 0;
  if (m.heldOutAcc === undefined || m.heldOutAcc === null) return { accuracy: null, reason: n === 0 ? "no human labels held out" : "not measured yet" };
  return { accuracy: proportion(m.heldOutCorrect ?? Math.round(m.heldOutAcc * n), n), reason: null };
}
