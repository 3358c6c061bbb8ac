import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { listAuditAnswers } from "@/lib/db/queries/audits";
import { getLabelCounts, getLabelHistory, setHumanLabels, undoLastLabelAction } from "@/lib/db/queries/labels";
import { createProject, getProjectWithClasses, updateProject } from "@/lib/db/queries/projects";
import { labelEvents, labels } from "@/lib/db/schema";
import { AppError } from "@/lib/errors";
import { addImageRows, addRunWithPredictions, makePetsProject, makeTestDb } from "@/lib/testing/db";
import { acceptProposals, answerAudit, auditSample, proposalGate, proposalSummary } from "./proposals";

let db: Db;
let cleanup: () => void;
let projectId: number;
let cat: number, dog: number;

function addRun(preds: [number, number, number][]) {
  return addRunWithPredictions(db, projectId, [cat, dog], preds);
}

const asError = (fn: () => unknown): AppError => {
  try {
    fn();
  } catch (err) {
    return err as AppError;
  }
  throw new Error("expected an error");
};

let catIds: number[];
let dogIds: number[];
let run: ReturnType<typeof addRun>;

beforeEach(() => {
  ({ db, cleanup } = makeTestDb());
  ({ projectId, classIds: [cat, dog] } = makePetsProject(db));
  // 40 cat proposals from 0.90 to 0.99, 30 dog proposals at 0.96, 10 cat proposals below 0.9.
  catIds = addImageRows(db, projectId, 40, "cat");
  dogIds = addImageRows(db, projectId, 30, "dog");
  const low = addImageRows(db, projectId, 10, "low");
  run = addRun([
    ...catIds.map((id, i): [number, number, number] => [id, cat, 0.9 + (i % 10) / 100]),
    ...dogIds.map((id): [number, number, number] => [id, dog, 0.96]),
    ...low.map((id): [number, number, number] => [id, cat, 0.6]),
  ]);
});
afterEach(() => cleanup());

describe("auditSample", () => {
  it("draws a seeded random sample per class, only at or above the threshold, sized for the target", () => {
    updateProject(db, projectId, { targetPrecision: 0.8 }); // needs 16 per class
    const s = auditSample(db, projectId, { threshold: 0.9 });
    expect(s.byClass[cat]).toMatchObject({ size: 16, open: 40 });
    expect(s.byClass[dog]).toMatchObject({ size: 16, open: 30 });
    expect(s.items.filter((i) => i.classId === cat)).toHaveLength(16);
    expect(s.items.every((i) => i.confidence >= 0.9)).toBe(true);
    // The same query gives the same sample; it is not simply the most confident or the first ids.
    expect(auditSample(db, projectId, { threshold: 0.9 }).items.map((i) => i.imageId)).toEqual(s.items.map((i) => i.imageId));
    const catPicked = s.items.filter((i) => i.classId === cat).map((i) => i.imageId);
    expect(catPicked).not.toEqual(catIds.slice(0, 16));
    expect(new Set(s.items.filter((i) => i.classId === cat).map((i) => i.confidence)).size).toBeGreaterThan(3);
    // One class only, and an explicit size.
    const one = auditSample(db, projectId, { threshold: 0.9, classId: dog, size: 5 });
    expect(one.items.map((i) => i.classId)).toEqual([dog, dog, dog, dog, dog]);
  });
});

describe("answerAudit", () => {
  it("records each answer as a human label from an audit, and a verdict that the gate counts", () => {
    const sample = auditSample(db, projectId, { threshold: 0.9, classId: cat, size: 4 }).items.map((i) => i.imageId);
    const r = answerAudit(
      db,
      projectId,
      { runId: run.id, floor: 0.9, answers: [{ imageId: sample[0], classId: cat }, { imageId: sample[1], classId: cat }, { imageId: sample[2], classId: cat }, { imageId: sample[3], classId: dog }] },
      "ann",
    );
    expect(r).toMatchObject({ answered: 4, correct: 3, skipped: 0 });
    // They count as labeled, by a person.
    expect(getLabelCounts(db, projectId).bySource.human).toBe(4);
    const label = db.select().from(labels).all().find((l) => l.imageId === sample[3])!;
    expect(label).toMatchObject({ classId: dog, source: "human", via: "audit" });
    expect(getLabelHistory(db, sample[0]).at(-1)).toMatchObject({ source: "human", via: "audit", classId: cat });
    // The gate at 0.9 sees 3 of 4.
    expect(proposalGate(db, projectId, run.id, cat, 0.9)).toMatchObject({ n: 4, correct: 3, status: "failing" });
    // Answered images are no longer proposals.
    expect((proposalSummary(db, projectId, { threshold: 0.9 }).byClass as Record<number, number>)[cat]).toBe(36);
  });

  it("skips images below the floor or labeled by hand, lets an answer be corrected, and drops undone answers", () => {
    const b = catIds[1];
    const below = catIds.find((_, i) => i % 10 === 0)!; // 0.90
    setHumanLabels(db, projectId, { imageIds: [b], classId: cat }, "ann");
    expect(answerAudit(db, projectId, { runId: run.id, floor: 0.95, answers: [{ imageId: below, classId: cat }, { imageId: b, classId: cat }] }, "ann")).toMatchObject({ answered: 0, skipped: 2 });
    const high = catIds[9]; // 0.99
    answerAudit(db, projectId, { runId: run.id, floor: 0.95, answers: [{ imageId: high, classId: dog }] }, "ann");
    // Corrected: the same image answered again replaces the verdict.
    answerAudit(db, projectId, { runId: run.id, floor: 0.95, answers: [{ imageId: high, classId: cat }] }, "ann");
    expect(listAuditAnswers(db, run.id)).toEqual([expect.objectContaining({ imageId: high, correct: true, answerClassId: cat })]);
    // Undo (Z) takes the last answer out of the labels and of the audit.
    undoLastLabelAction(db, projectId, "ann");
    expect(listAuditAnswers(db, run.id)).toEqual([]);
  });

  it("refuses a class of another project", () => {
    const other = createProject(db, { name: "o", classes: [{ name: "x" }] });
    const x = getProjectWithClasses(db, other.id).classes[0].id;
    expect(asError(() => answerAudit(db, projectId, { runId: run.id, floor: 0.9, answers: [{ imageId: catIds[0], classId: x }] }, "ann")).status).toBe(400);
  });
});

describe("the accept-all gate", () => {
  const answerAll = (ids: number[], classId: number, floor: number) =>
    answerAudit(db, projectId, { runId: run.id, floor, answers: ids.map((imageId) => ({ imageId, classId })) }, "ann");

  it("refuses accept-all with 409 without an audit, with a failing one, and accepts through an open gate", () => {
    let err = asError(() => acceptProposals(db, projectId, { runId: run.id, classId: dog, minConfidence: 0.95 }, "ann"));
    expect(err.status).toBe(409);
    expect(err.message).toContain("audit 73 to accept all");
    expect(db.select().from(labels).all()).toHaveLength(0);

    updateProject(db, projectId, { targetPrecision: 0.8 });
    // Half the sample wrong: failing.
    const sample = auditSample(db, projectId, { threshold: 0.95, classId: dog }).items.map((i) => i.imageId);
    expect(sample).toHaveLength(16);
    answerAll(sample.slice(0, 8), dog, 0.95);
    answerAll(sample.slice(8), cat, 0.95);
    err = asError(() => acceptProposals(db, projectId, { runId: run.id, classId: dog, minConfidence: 0.95 }, "ann"));
    expect(err.status).toBe(409);
    expect(err.message).toContain("precision 50% [28-72%] (n=16): raise the threshold or retrain");
    expect(err.details?.gate).toMatchObject({ status: "failing" });

    // Cat, all right: the gate opens and the accepted labels say they came through it.
    const catSample = auditSample(db, projectId, { threshold: 0.95, classId: cat }).items.map((i) => i.imageId);
    expect(catSample).toHaveLength(16);
    answerAll(catSample, cat, 0.95);
    expect(proposalGate(db, projectId, run.id, cat, 0.95)).toMatchObject({ status: "passing", open: true });
    const r = acceptProposals(db, projectId, { runId: run.id, classId: cat, minConfidence: 0.95 }, "ann");
    expect(r.accepted).toBe(20 - 16);
    const accepted = db.select().from(labels).all().filter((l) => l.source === "accepted_proposal");
    expect(accepted.map((l) => l.via)).toEqual(["gate", "gate", "gate", "gate"]);
    // Below the audited floor the gate stays closed.
    expect(asError(() => acceptProposals(db, projectId, { runId: run.id, classId: cat, minConfidence: 0.9 }, "ann")).status).toBe(409);
  });

  it("an override accepts while the gate is closed, and the label events say so", () => {
    const r = acceptProposals(db, projectId, { runId: run.id, classId: dog, minConfidence: 0.95, override: true }, "bo");
    expect(r.accepted).toBe(30);
    const events = db.select().from(labelEvents).all();
    expect(events).toHaveLength(30);
    expect(events.every((e) => e.via === "override" && e.source === "accepted_proposal" && e.actor === "bo")).toBe(true);
  });

  it("a new model version needs a new audit", () => {
    updateProject(db, projectId, { targetPrecision: 0.8 });
    answerAll(auditSample(db, projectId, { threshold: 0.95, classId: dog }).items.map((i) => i.imageId), dog, 0.95);
    expect(proposalGate(db, projectId, run.id, dog, 0.95).open).toBe(true);
    const newer = addRun(dogIds.map((id): [number, number, number] => [id, dog, 0.97]));
    const gate = proposalGate(db, projectId, newer.id, dog, 0.95);
    expect(gate).toMatchObject({ status: "stale", open: false });
    expect(gate.message).toContain(`the audit of ${run.modelVersion} does not count`);
    expect(asError(() => acceptProposals(db, projectId, { runId: newer.id, classId: dog, minConfidence: 0.95 }, "ann")).status).toBe(409);
    expect(proposalSummary(db, projectId, { runId: newer.id }).audit.staleModelVersion).toBe(run.modelVersion);
  });

  it("per class: each class at its own audited threshold, classes without one left alone", () => {
    updateProject(db, projectId, { targetPrecision: 0.7 }); // 9 right answers suffice
    // Cat audited at 0.90: everything below 0.95 judged wrong, above right -> its threshold lands above 0.94.
    const catSample = auditSample(db, projectId, { threshold: 0.9, classId: cat, size: 40 }).items;
    answerAudit(db, projectId, { runId: run.id, floor: 0.9, answers: catSample.slice(0, 30).map((i) => ({ imageId: i.imageId, classId: i.confidence >= 0.95 ? cat : dog })) }, "ann");
    const summary = proposalSummary(db, projectId, { threshold: 0.9 });
    const chosen = summary.audit.classThresholds[cat]!;
    expect(chosen.threshold).toBeGreaterThan(0.94);
    expect(chosen.threshold).toBeLessThanOrEqual(0.95 + 1e-9);
    expect(summary.audit.classThresholds[dog]).toBeNull();
    const open = catSample.slice(30).filter((i) => i.confidence >= chosen.threshold - 1e-9).length;
    const r = acceptProposals(db, projectId, { runId: run.id, perClass: true }, "ann");
    expect(r.accepted).toBe(open);
    const accepted = db.select().from(labels).all().filter((l) => l.source === "accepted_proposal");
    expect(accepted.every((l) => l.classId === cat && l.confidence! >= 0.95 - 1e-9 && l.via === "gate")).toBe(true);
  });
});
