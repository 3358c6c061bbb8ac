import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { setHumanLabels, undoLastLabelAction } from "@/lib/db/queries/labels";
import { createRun, updateRun, writePredictions } from "@/lib/db/queries/training";
import { splitHeldOut } from "@/lib/ml/heldout";
import { makePetsProject, makeTestDb } from "@/lib/testing/db";
import { compareModels, countSourcesAt, getModelMetrics, heldOutMetrics, proposalReception, sharedHeldOutAccuracy } from "./metrics";
import { runSnapshotPath } from "./precision";
import { acceptProposals, rejectProposals } from "./proposals";

describe("heldOutMetrics", () => {
  it("accuracy, confusion matrix (rows: label, columns: prediction), per-class precision and recall", () => {
    const [a, b, c] = [10, 20, 30];
    const judged = [
      ...[1, 2, 3].map((i) => ({ imageId: i, labelClassId: a, topClassId: a, confidence: 0.9 })),
      { imageId: 4, labelClassId: a, topClassId: b, confidence: 0.9 },
      ...[5, 6].map((i) => ({ imageId: i, labelClassId: b, topClassId: b, confidence: 0.9 })),
      { imageId: 7, labelClassId: c, topClassId: a, confidence: 0.9 },
      { imageId: 8, labelClassId: c, topClassId: c, confidence: 0.9 },
      // A class the run did not know: left out.
      { imageId: 9, labelClassId: 99, topClassId: a, confidence: 0.9 },
    ];
    const m = heldOutMetrics(judged, [a, b, c]);
    expect(m.confusion).toEqual([
      [3, 1, 0],
      [0, 2, 0],
      [1, 0, 1],
    ]);
    expect(m).toMatchObject({ n: 8, correct: 6, accuracy: { k: 6, n: 8, value: 0.75, enough: false } });
    expect(m.byClass.map((x) => [x.precision.value, x.recall.value, x.support, x.predicted])).toEqual([
      [3 / 4, 3 / 4, 4, 4],
      [2 / 3, 1, 2, 3],
      [1, 1 / 2, 2, 1],
    ]);
  });

  it("no judgements: null ratios, zero matrix", () => {
    const m = heldOutMetrics([], [1, 2]);
    expect(m).toMatchObject({ n: 0, accuracy: { value: null, interval: null }, confusion: [[0, 0], [0, 0]] });
    expect(m.byClass[0]).toMatchObject({ precision: { value: null }, recall: { value: null } });
  });
});

describe("countSourcesAt and proposalReception", () => {
  it("takes each image's last change at or before the cutoff", () => {
    const history = [
      { imageId: 1, source: "imported" as const, createdAt: 10 },
      { imageId: 1, source: "human" as const, createdAt: 20 },
      { imageId: 2, source: "accepted_proposal" as const, createdAt: 15 },
      { imageId: 2, source: "human" as const, createdAt: 40 }, // after the cutoff
      { imageId: 3, source: "human" as const, createdAt: 5 },
      { imageId: 4, source: "human" as const, createdAt: 5 }, // not asked about
    ];
    expect(countSourcesAt([1, 2, 3, 5], history, 30)).toEqual({ human: 2, imported: 0, accepted_proposal: 1, unknown: 1, total: 4 });
  });

  it("acceptance rate = accepted / (accepted + rejected)", () => {
    expect(proposalReception(3, 1)).toEqual({ accepted: 3, rejected: 1, acceptanceRate: 0.75 });
    expect(proposalReception(0, 0).acceptanceRate).toBeNull();
  });

  it("shared held-out accuracy scores both runs on the images both held out", () => {
    const j = (imageId: number, right: boolean) => ({ imageId, labelClassId: 1, topClassId: right ? 1 : 2, confidence: 1 });
    expect(sharedHeldOutAccuracy([j(1, true), j(2, false), j(3, true)], [j(2, true), j(3, true), j(4, false)])).toMatchObject({
      n: 2,
      accuracyA: { k: 1, n: 2, value: 0.5 },
      accuracyB: { k: 2, n: 2, value: 1 },
    });
  });
});

describe("getModelMetrics / compareModels", () => {
  let db: Db;
  let cleanup: () => void;
  let projectId: number;
  let cat: number, dog: number;
  let ids: number[];

  beforeEach(() => {
    ({ db, cleanup } = makeTestDb());
    ({ projectId, classIds: [cat, dog], imageIds: ids } = makePetsProject(db, { images: 16 }));
  });
  afterEach(() => cleanup());

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /** A run started now over the current labels of `labeled`, predicting `guess(imageId)` for every image. */
  function addRun(labeled: [number, number][], guess: (imageId: number) => number) {
    const classIds = [cat, dog];
    const run = createRun(db, { projectId, mode: "fixmatch", config: { classIds }, totalSteps: 10 });
    updateRun(db, run.id, { status: "succeeded", startedAt: Date.now(), metrics: { heldOutAcc: 0.5 } });
    const file = runSnapshotPath(run.id);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ classIds, labeled: labeled.map(([id, c]) => [id, classIds.indexOf(c)]), imageIds: ids, channels: 3 }));
    writePredictions(
      db,
      ids.map((imageId) => {
        const top = guess(imageId);
        return { projectId, imageId, runId: run.id, modelVersion: run.modelVersion, probs: top === cat ? [0.9, 0.1] : [0.1, 0.9], topClassId: top, confidence: 0.9 };
      }),
    );
    return run;
  }

  it("held-out metrics, training labels by source when the run started, and proposal acceptance", async () => {
    // 5 cats and 5 dogs labeled by a person.
    const cats = ids.slice(0, 5);
    const dogs = ids.slice(5, 10);
    setHumanLabels(db, projectId, { imageIds: cats, classId: cat }, "ann");
    setHumanLabels(db, projectId, { imageIds: dogs, classId: dog }, "ann");
    const labeled: [number, number][] = [...cats.map((id) => [id, cat] as [number, number]), ...dogs.map((id) => [id, dog] as [number, number])];
    await sleep(5);
    // The model calls everything a cat.
    const run = addRun(labeled, () => cat);
    await sleep(5);

    // Reviewers: accept 2 of its proposals, accept 1 more and undo it, reject 1. Later changes do not alter what it trained on.
    acceptProposals(db, projectId, { runId: run.id, imageIds: [ids[10], ids[11]] }, "ann");
    acceptProposals(db, projectId, { runId: run.id, imageIds: [ids[12]] }, "ann");
    undoLastLabelAction(db, projectId, "ann");
    rejectProposals(db, projectId, { runId: run.id, imageIds: [ids[13]] }, "ann");

    const m = getModelMetrics(db, run.id);
    const split = splitHeldOut(labeled.map(([imageId, c]) => ({ imageId, classIndex: c === cat ? 0 : 1 })));
    const heldCats = split.heldOut.filter((e) => e.classIndex === 0).length;
    const heldDogs = split.heldOut.length - heldCats;
    expect(heldCats).toBe(1);
    expect(heldDogs).toBe(1);
    expect(m.heldOut!.confusion).toEqual([
      [heldCats, 0],
      [heldDogs, 0],
    ]);
    expect(m.heldOut!.accuracy.value).toBe(0.5);
    expect(m.heldOut!.byClass.map((c) => [c.precision.value, c.recall.value])).toEqual([
      [0.5, 1],
      [null, 0],
    ]);
    expect(m.heldOutReason).toBeNull();
    expect(m.heldOutLabels).toBe(2);
    expect(m.trainedOn).toEqual({ human: 8, imported: 0, accepted_proposal: 0, unknown: 0, total: 8 });
    expect(m.startedFrom).toEqual({ human: 10, imported: 0, accepted_proposal: 0, unknown: 0, total: 10 });
    expect(m.proposals).toEqual({ accepted: 2, rejected: 1, acceptanceRate: 2 / 3 });
    // A snapshot without label sources (legacy): the trainer's own figure may rest on accepted proposals, so it is not shown.
    expect(m.run).toMatchObject({ modelVersion: run.modelVersion, trainerHeldOut: null });
    expect(m.run.trainerHeldOutReason).toMatch(/accepted proposals/);

    // A second model trained after the accepts: 2 of its training labels are accepted proposals, and it is right everywhere.
    const truth = new Map<number, number>([...labeled, [ids[10], cat], [ids[11], cat]]);
    await sleep(5);
    const run2 = addRun([...truth], (id) => truth.get(id) ?? dog);
    const cmp = compareModels(db, run.id, run2.id);
    expect(cmp.b.trainedOn).toMatchObject({ human: 8, accepted_proposal: 2, total: 10 });
    // It started from the first run's labels plus exactly the 2 accepted ones (the undone one is not among them).
    expect(cmp.b.startedFrom).toEqual({ human: 10, imported: 0, accepted_proposal: 2, unknown: 0, total: 12 });
    expect(cmp.a.startedFrom).toEqual(m.startedFrom);
    expect(cmp.b.heldOut!.accuracy.value).toBe(1);
    expect(cmp.b.proposals).toEqual({ accepted: 0, rejected: 0, acceptanceRate: null });
    // Both held out the same human labels here (the split is by image id): 1 of 2 right vs 2 of 2.
    expect(cmp.shared).toMatchObject({ n: 2, accuracyA: { value: 0.5 }, accuracyB: { value: 1 } });
  });

  it("says why when a run has no predictions", () => {
    const run = createRun(db, { projectId, mode: "fixmatch", config: { classIds: [cat, dog] }, totalSteps: 10 });
    const m = getModelMetrics(db, run.id);
    expect(m.heldOut).toBeNull();
    expect(m.heldOutReason).toMatch(/no predictions/);
    expect(m.trainedOn).toBeNull();
    expect(m.startedFrom).toBeNull();
  });
});
