import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { getLabelHistory, recordLabelChanges, setHumanLabels, undoLastLabelAction } from "@/lib/db/queries/labels";
import { createProject } from "@/lib/db/queries/projects";
import { listRejections } from "@/lib/db/queries/review";
import { images, labelActions, labels } from "@/lib/db/schema";
import { splitHeldOut } from "@/lib/ml/heldout";
import { addRunWithPredictions, makePetsProject, makeTestDb } from "@/lib/testing/db";
import { runSnapshotPath } from "./precision";
import { acceptProposals, describeProposer, estimatePrecision, listProposals, proposalSummary, rejectProposals } from "./proposals";

let db: Db;
let cleanup: () => void;
let projectId: number;
let cat: number, dog: number;
let ids: number[];

function addImages(n: number): number[] {
  return Array.from({ length: n }, () => {
    const i = Math.random().toString(16).slice(2);
    return db
      .insert(images)
      .values({ projectId, sha256: i.padStart(64, "0"), originalName: `img-${i}.png`, format: "png", width: 8, height: 8, bytes: 100, channels: 3 })
      .returning()
      .get().id;
  });
}

/** A succeeded run with the given predictions ([imageId, classId, confidence]), as the worker would leave it. */
function addRun(preds: [number, number, number][], status: "succeeded" | "failed" = "succeeded") {
  return addRunWithPredictions(db, projectId, [cat, dog], preds, status);
}

function writeSnapshot(runId: number, labeled: [number, number][]) {
  const file = runSnapshotPath(runId);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ classIds: [cat, dog], labeled, imageIds: ids, channels: 3 }));
}

beforeEach(() => {
  ({ db, cleanup } = makeTestDb());
  ({ projectId, classIds: [cat, dog] } = makePetsProject(db));
  ids = addImages(8);
});
afterEach(() => cleanup());

describe("listProposals", () => {
  it("lists a class's unlabeled proposals by confidence, leaving out labeled and rejected images", () => {
    const run = addRun([
      [ids[0], cat, 0.7],
      [ids[1], cat, 0.99],
      [ids[2], cat, 0.8],
      [ids[3], dog, 0.95],
      [ids[4], cat, 0.8],
      [ids[5], cat, 0.9],
      [ids[6], cat, 0.97],
    ]);
    setHumanLabels(db, projectId, { imageIds: [ids[5]], classId: dog }, "ann");
    rejectProposals(db, projectId, { runId: run.id, imageIds: [ids[6]] }, "ann");

    const page = listProposals(db, projectId, { classId: cat });
    expect(page.run).toEqual({ id: run.id, modelVersion: run.modelVersion, madeBy: "a network trained from scratch" });
    // Ties (0.8) go by image id.
    expect(page.items.map((i) => i.imageId)).toEqual([ids[1], ids[2], ids[4], ids[0]]);
    expect(page.total).toBe(4);
    expect(page.items[0]).toMatchObject({ classId: cat, confidence: 0.99, name: expect.stringMatching(/^img-/) });
    expect(page.items[0].probs).toBeUndefined();

    const above = listProposals(db, projectId, { classId: cat, minConfidence: 0.8, offset: 1, limit: 1, probs: "1" });
    expect(above.total).toBe(3);
    expect(above.items.map((i) => i.imageId)).toEqual([ids[2]]);
    expect(above.items[0].probs).toEqual([0.8, expect.closeTo(0.2)]);
    expect(listProposals(db, projectId, { classId: dog }).items.map((i) => i.imageId)).toEqual([ids[3]]);
  });

  it("uses the latest succeeded run with predictions; a rejection binds only the model that proposed it", () => {
    const first = addRun([[ids[0], cat, 0.9]]);
    rejectProposals(db, projectId, { runId: first.id, imageIds: [ids[0]] }, "ann");
    expect(listProposals(db, projectId, { classId: cat }).total).toBe(0);
    const second = addRun([[ids[0], cat, 0.8]]);
    addRun([[ids[0], dog, 0.99]], "failed");
    const page = listProposals(db, projectId, { classId: cat });
    expect(page.run?.id).toBe(second.id);
    expect(page.items.map((i) => i.imageId)).toEqual([ids[0]]);
    expect(listProposals(db, projectId, { classId: cat, runId: first.id }).total).toBe(0);
  });

  it("answers with no run when the project has none with predictions", () => {
    expect(listProposals(db, projectId, { classId: cat })).toMatchObject({ run: null, total: 0, items: [] });
    expect(proposalSummary(db, projectId, {})).toMatchObject({ run: null, total: 0, curve: [] });
  });

  it("refuses a run of another project", () => {
    const other = createProject(db, { name: "other", classes: [{ name: "x" }] }).id;
    const run = addRun([[ids[0], cat, 0.9]]);
    expect(() => listProposals(db, other, { classId: cat, runId: run.id })).toThrow(/not found/);
  });
});

describe("acceptProposals", () => {
  it("writes labels with source, model version and each image's confidence, as one undoable action", () => {
    const run = addRun([
      [ids[0], cat, 0.91],
      [ids[1], dog, 0.97],
      [ids[2], cat, 0.6],
    ]);
    const r = acceptProposals(db, projectId, { runId: run.id, imageIds: [ids[0], ids[1]] }, "ann");
    expect(r).toMatchObject({ accepted: 2, skipped: 0 });
    const rows = db.select().from(labels).all();
    expect(rows.map((l) => [l.imageId, l.classId, l.source, l.modelVersion, l.confidence, l.actionId])).toEqual([
      [ids[0], cat, "accepted_proposal", run.modelVersion, 0.91, r.actionId],
      [ids[1], dog, "accepted_proposal", run.modelVersion, 0.97, r.actionId],
    ]);
    expect(getLabelHistory(db, ids[1])).toMatchObject([{ classId: dog, source: "accepted_proposal", modelVersion: run.modelVersion, confidence: 0.97, actor: "ann" }]);
    expect(db.select().from(labelActions).all().map((a) => a.kind)).toEqual(["accept"]);
    expect(listProposals(db, projectId, { classId: cat }).items.map((i) => i.imageId)).toEqual([ids[2]]);

    expect(undoLastLabelAction(db, projectId, "ann")).toMatchObject({ undoneActionId: r.actionId, restored: 2 });
    expect(db.select().from(labels).all()).toEqual([]);
  });

  it("skips images labeled meanwhile and records nothing when none is left", () => {
    const run = addRun([
      [ids[0], cat, 0.91],
      [ids[1], cat, 0.95],
    ]);
    setHumanLabels(db, projectId, { imageIds: [ids[0]], classId: dog }, "bob");
    expect(acceptProposals(db, projectId, { runId: run.id, imageIds: [ids[0], ids[1]] }, "ann")).toMatchObject({ accepted: 1, skipped: 1 });
    expect(db.select().from(labels).all().find((l) => l.imageId === ids[0])).toMatchObject({ classId: dog, source: "human" });
    expect(acceptProposals(db, projectId, { runId: run.id, imageIds: [ids[0]] }, "ann")).toEqual({ accepted: 0, skipped: 1, actionId: null });
    expect(db.select().from(labelActions).all().map((a) => a.kind)).toEqual(["set", "accept"]);
  });

  it("accepts every open proposal of a class at or above a confidence", () => {
    const run = addRun([
      [ids[0], cat, 0.91],
      [ids[1], cat, 0.9],
      [ids[2], cat, 0.89],
      [ids[3], dog, 0.99],
      [ids[4], cat, 0.95],
    ]);
    rejectProposals(db, projectId, { runId: run.id, imageIds: [ids[4]] }, "ann");
    // Without an audit the gate is closed (audit-flow.test.ts); the override takes them and says so.
    const r = acceptProposals(db, projectId, { runId: run.id, classId: cat, minConfidence: 0.9, override: true }, "ann");
    expect(r.accepted).toBe(2);
    expect(db.select().from(labels).all().map((l) => l.via)).toEqual(["override", "override"]);
    expect(db.select().from(labels).all().map((l) => l.imageId).sort((a, b) => a - b)).toEqual([ids[0], ids[1]]);
  });
});

describe("rejectProposals", () => {
  it("remembers (image, class, model version) once", () => {
    const run = addRun([
      [ids[0], cat, 0.91],
      [ids[1], dog, 0.97],
    ]);
    expect(rejectProposals(db, projectId, { runId: run.id, imageIds: [ids[0], ids[1]] }, "ann")).toEqual({ rejected: 2 });
    expect(rejectProposals(db, projectId, { runId: run.id, imageIds: [ids[0]] }, "ann")).toEqual({ rejected: 0 });
    expect(listRejections(db, projectId).map((r) => [r.imageId, r.classId, r.modelVersion])).toEqual([
      [ids[0], cat, run.modelVersion],
      [ids[1], dog, run.modelVersion],
    ]);
    expect(proposalSummary(db, projectId, { threshold: 0.5 }).total).toBe(0);
  });
});

describe("proposalSummary", () => {
  it("counts open proposals per class at the threshold and along the curve", () => {
    addRun([
      [ids[0], cat, 0.5],
      [ids[1], cat, 0.95],
      [ids[2], cat, 0.999],
      [ids[3], dog, 0.9],
      [ids[4], dog, 0.949],
    ]);
    const s = proposalSummary(db, projectId, { threshold: 0.9 });
    expect(s.byClass).toEqual({ [cat]: 2, [dog]: 2 });
    expect(s.total).toBe(4);
    const at = (t: number) => s.curve.find((p) => Math.abs(p.threshold - t) < 1e-9)!;
    expect(at(0.5)).toMatchObject({ passing: 5, passingByClass: { [cat]: 3, [dog]: 2 } });
    expect(at(0.95)).toMatchObject({ passing: 2, passingByClass: { [cat]: 2, [dog]: 0 } });
    expect(at(0.999)).toMatchObject({ passing: 1 });
    expect(s.curve[0].threshold).toBe(0.5);
    expect(s.curve.at(-1)!.threshold).toBe(0.999);
  });
});

describe("estimatePrecision", () => {
  /**
   * 25 human labels per class; the trainer's split holds 5 of each out. On those 10 the model is
   * right 6 times out of 8 at confidence 0.95 and right twice at 0.6. Training images get
   * confident wrong predictions: they must not count.
   */
  it("measures precision on the run's held-out human labels only", () => {
    const catIds = addImages(25);
    const dogIds = addImages(25);
    setHumanLabels(db, projectId, { imageIds: catIds, classId: cat }, "ann");
    setHumanLabels(db, projectId, { imageIds: dogIds, classId: dog }, "ann");
    const labeled: [number, number][] = [...catIds.map((id): [number, number] => [id, 0]), ...dogIds.map((id): [number, number] => [id, 1])];
    const { heldOut, train } = splitHeldOut(labeled.map(([imageId, classIndex]) => ({ imageId, classIndex })));
    const a = heldOut.filter((e) => e.classIndex === 0).map((e) => e.imageId);
    const b = heldOut.filter((e) => e.classIndex === 1).map((e) => e.imageId);
    expect([a.length, b.length]).toEqual([5, 5]);
    const run = addRun([
      ...a.slice(0, 4).map((id): [number, number, number] => [id, cat, 0.95]),
      [b[0], dog, 0.95],
      [b[1], dog, 0.95],
      [b[2], cat, 0.95],
      [b[3], cat, 0.95],
      [a[4], cat, 0.6],
      [b[4], dog, 0.6],
      ...train.map((e): [number, number, number] => [e.imageId, e.classIndex === 0 ? dog : cat, 0.99]),
    ]);
    writeSnapshot(run.id, labeled);

    const p = estimatePrecision(db, projectId, run.id, 0.9);
    expect(p).toMatchObject({ precision: 0.75, support: 8, correct: 6, heldOut: 10, reason: null });
    expect(p.byClass[cat]).toEqual({ precision: 4 / 6, support: 6, correct: 4 });
    expect(p.byClass[dog]).toEqual({ precision: 1, support: 2, correct: 2 });
    expect(p.interval![0]).toBeLessThan(0.75);
    expect(p.interval![1]).toBeGreaterThan(0.75);
    expect(estimatePrecision(db, projectId, run.id, 0.5)).toMatchObject({ precision: 0.8, support: 10 });
    expect(estimatePrecision(db, projectId, run.id, 0.96)).toMatchObject({ precision: null, support: 0, reason: "no held-out human label reaches this threshold" });

    const curve = proposalSummary(db, projectId, { runId: run.id }).curve;
    expect(curve.find((c) => c.threshold === 0.9)).toMatchObject({ precision: 0.75, support: 8 });

    // A held-out label that is no longer a person's (here: replaced by an import) drops out.
    recordLabelChanges(db, { projectId, imageIds: [b[3]], classId: dog, source: "imported", actor: "import", kind: "import" });
    expect(estimatePrecision(db, projectId, run.id, 0.9)).toMatchObject({ precision: 6 / 7, support: 7, heldOut: 9 });
  });

  it("gives no precision, with a reason, when the run held out no human labels or its snapshot is gone", () => {
    setHumanLabels(db, projectId, { imageIds: [ids[0]], classId: cat }, "ann");
    setHumanLabels(db, projectId, { imageIds: [ids[1]], classId: dog }, "ann");
    const run = addRun([
      [ids[0], cat, 0.99],
      [ids[1], dog, 0.99],
      [ids[2], cat, 0.99],
    ]);
    // One label per class: the trainer trains on both and holds none out.
    writeSnapshot(run.id, [
      [ids[0], 0],
      [ids[1], 1],
    ]);
    expect(estimatePrecision(db, projectId, run.id, 0.9)).toMatchObject({ precision: null, support: 0, heldOut: 0, reason: "the run held out no human labels" });
    fs.rmSync(runSnapshotPath(run.id));
    expect(estimatePrecision(db, projectId, run.id, 0.9).reason).toMatch(/snapshot is missing/);
  });
});

describe("describeProposer", () => {
  const custom = { kind: "custom" as const, source: "uploaded-ab12", cutLayer: "conv", preprocessing: { inputSize: 16, channels: 3 as const, scale: 1 / 127.5, offset: -1 } };
  it("names the model whose proposals the review page shows", () => {
    expect(describeProposer({ config: { train: { mode: "fixmatch" } }, metrics: null })).toBe("a network trained from scratch");
    expect(describeProposer({ config: { train: { backbone: { kind: "mobilenet-v2", alpha: "1.00" }, backboneMode: "frozen" } }, metrics: { headKind: "linear-probe" } })).toBe(
      "a linear probe on ImageNet MobileNetV2 (alpha 1.00) features",
    );
    expect(describeProposer({ config: { train: { backbone: custom } }, metrics: { headKind: "fixmatch" } })).toBe("a FixMatch head on your backbone uploaded-ab12 (cut at conv) features");
    expect(describeProposer({ config: { train: { backbone: custom, backboneMode: "finetune" } }, metrics: null })).toBe("your backbone uploaded-ab12 (cut at conv), fine-tuned");
  });
});
