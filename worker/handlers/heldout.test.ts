/**
 * The circle the issue found: accepted proposals trained on, then "held-out accuracy" measured on
 * them. Here a run starts from 10 human labels and 28 accepted proposals, through the worker's own
 * data snapshot; its model parrots every accepted label and gets every human label wrong. The
 * figures must come from the human labels alone (0 right), never from the accepted ones (all right).
 */
import { afterEach, beforeEach, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { setHumanLabels } from "@/lib/db/queries/labels";
import { createRun, getRun, updateRun, writePredictions } from "@/lib/db/queries/training";
import { getModelMetrics } from "@/lib/review/metrics";
import { estimateFromJudgements, loadHeldOutJudgements } from "@/lib/review/precision";
import { acceptProposals } from "@/lib/review/proposals";
import { makePetsProject, makeTestDb } from "@/lib/testing/db";
import { takeOrReadSnapshot } from "./train";

let db: Db;
let cleanup: () => void;
let projectId: number;
let cat: number, dog: number;
let ids: number[];

beforeEach(() => {
  ({ db, cleanup } = makeTestDb());
  ({ projectId, classIds: [cat, dog], imageIds: ids } = makePetsProject(db, { images: 40 }));
});
afterEach(() => cleanup());

function predict(runId: number, guess: (imageId: number) => number) {
  const run = getRun(db, runId);
  writePredictions(
    db,
    ids.map((imageId) => {
      const top = guess(imageId);
      return { projectId, imageId, runId, modelVersion: run.modelVersion, probs: top === cat ? [0.99, 0.01] : [0.01, 0.99], topClassId: top, confidence: 0.99 };
    }),
  );
}

it("a run trained on accepted proposals is judged on held-out human labels only", async () => {
  const humanCats = ids.slice(0, 5);
  const humanDogs = ids.slice(5, 10);
  setHumanLabels(db, projectId, { imageIds: humanCats, classId: cat }, "ann");
  setHumanLabels(db, projectId, { imageIds: humanDogs, classId: dog }, "ann");
  const proposed = ids.slice(10);
  // Run 1 proposes a class for the 30 unlabeled images; 28 of them are accepted.
  const run1 = createRun(db, { projectId, mode: "fixmatch", config: { classIds: [cat, dog] }, totalSteps: 1 });
  updateRun(db, run1.id, { status: "succeeded" });
  predict(run1.id, (id) => (id % 2 === 0 ? cat : dog));
  const accepted = proposed.slice(0, 28);
  acceptProposals(db, projectId, { runId: run1.id, imageIds: accepted }, "ann");

  // Run 2 snapshots the data as the worker does, and trains on it.
  const run2 = createRun(db, { projectId, mode: "fixmatch", config: { classIds: [cat, dog] }, totalSteps: 1 });
  updateRun(db, run2.id, { status: "succeeded", startedAt: Date.now() });
  const snapshot = await takeOrReadSnapshot(db, getRun(db, run2.id));
  expect(snapshot.labeled).toHaveLength(38);
  expect(new Set(snapshot.labeled.map(([, , source]) => source))).toEqual(new Set(["human", "accepted_proposal"]));
  // It repeats every accepted proposal and gets every human label wrong.
  const acceptedClass = new Map(accepted.map((id) => [id, id % 2 === 0 ? cat : dog]));
  predict(run2.id, (id) => acceptedClass.get(id) ?? (humanCats.includes(id) ? dog : cat));

  const judged = loadHeldOutJudgements(db, { projectId, runId: run2.id })!;
  expect(judged.length).toBe(2); // round(20% of 5) human labels per class
  expect(judged.every((j) => !acceptedClass.has(j.imageId))).toBe(true);
  const m = getModelMetrics(db, run2.id);
  expect(m.heldOut!.accuracy).toMatchObject({ k: 0, n: 2, value: 0, enough: false });
  expect(m.heldOutLabels).toBe(2);
  expect(m.trainedOn).toMatchObject({ human: 8, accepted_proposal: 28, total: 36 });
  // The review page's precision at the threshold: the same 2 human labels, 0 right.
  expect(estimateFromJudgements(judged, 0.95, [cat, dog])).toMatchObject({ support: 2, correct: 0, precision: 0 });
});
