/**
 * Suspicious labels judged out of fold, in a test project whose embeddings the test makes: three
 * well-separated clusters (one per class), most labels accepted proposals, 8 of them (and 2 hand
 * labels) flipped to another class on purpose. The run's own predictions agree with every label,
 * flipped or not (a model that trained on them): judged by it, nothing is suspicious. Judged out
 * of fold, exactly the flipped labels are flagged, and the page counts the accepted ones per class.
 */
import { afterEach, beforeEach, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { setHumanLabels } from "@/lib/db/queries/labels";
import { createProject, getProjectWithClasses } from "@/lib/db/queries/projects";
import { createRun, updateRun, writePredictions } from "@/lib/db/queries/training";
import { writeEmbeddings } from "@/lib/ml/embeddings";
import { runDir } from "@/lib/ml/export";
import { Rng } from "@/lib/ml/rng";
import { addImageRows, makeTestDb } from "@/lib/testing/db";
import { foldOf, outOfFoldProbs, writeOutOfFold } from "./out-of-fold";
import { acceptProposals } from "./proposals";
import { listSuspiciousLabels } from "./suspicious";

let db: Db;
let cleanup: () => void;
beforeEach(() => ({ db, cleanup } = makeTestDb()));
afterEach(() => cleanup());

const PER_CLASS = 40;
const DIM = 6;

it("flags the labels flipped on purpose, and only those, once judged out of fold", async () => {
  const projectId = createProject(db, { name: "clusters", classes: [{ name: "a" }, { name: "b" }, { name: "c" }] }).id;
  const classIds = getProjectWithClasses(db, projectId).classes.map((c) => c.id);
  const ids = addImageRows(db, projectId, 3 * PER_CLASS);
  const truth = new Map(ids.map((id, i) => [id, i % 3]));
  // Embeddings: class k's cluster at 4 on axis k, noise 0.5 per axis.
  const rng = new Rng(5);
  const values = new Float32Array(ids.length * DIM);
  ids.forEach((id, i) => {
    for (let d = 0; d < DIM; d++) values[i * DIM + d] = (d === truth.get(id) ? 4 : 0) + (rng.next() - 0.5);
  });

  // Labels: the first 5 per class by hand, the rest accepted proposals of run 1; 8 accepted and 2 hand labels flipped.
  const flipped = new Set([...ids.filter((_, i) => i >= 15).filter((_, j) => j % 13 === 0).slice(0, 8), ids[0], ids[4]]);
  expect(flipped.size).toBe(10);
  const given = new Map(ids.map((id) => [id, flipped.has(id) ? (truth.get(id)! + 1) % 3 : truth.get(id)!]));
  const human = ids.slice(0, 15);
  for (let k = 0; k < 3; k++) setHumanLabels(db, projectId, { imageIds: human.filter((id) => given.get(id) === k), classId: classIds[k] }, "ann");
  const predictAs = (runId: number, modelVersion: string, classOf: (id: number) => number) =>
    writePredictions(
      db,
      ids.map((imageId) => {
        const k = classOf(imageId);
        const probs = [0.005, 0.005, 0.005];
        probs[k] = 0.99;
        return { projectId, imageId, runId, modelVersion, probs, topClassId: classIds[k], confidence: 0.99 };
      }),
    );
  const run1 = createRun(db, { projectId, mode: "fixmatch", config: { classIds }, totalSteps: 1 });
  updateRun(db, run1.id, { status: "succeeded" });
  predictAs(run1.id, run1.modelVersion, (id) => given.get(id)!);
  acceptProposals(db, projectId, { runId: run1.id, imageIds: ids.slice(15) }, "ann");

  // Run 2 trained on all of them and repeats every label it was given, the flipped ones too.
  const run2 = createRun(db, { projectId, mode: "fixmatch", config: { classIds }, totalSteps: 1 });
  updateRun(db, run2.id, { status: "succeeded" });
  predictAs(run2.id, run2.modelVersion, (id) => given.get(id)!);
  await writeEmbeddings(runDir(run2.id), { dim: DIM, imageIds: ids, values });

  const inSample = listSuspiciousLabels(db, projectId, { runId: run2.id });
  expect(inSample.method.outOfFold).toBe(false);
  expect(inSample.total).toBe(0);

  // The predict job's step: heads fitted on the other folds judge each label.
  const oof = outOfFoldProbs({ dim: DIM, imageIds: ids, values }, ids.map((imageId) => ({ imageId, classIndex: given.get(imageId)! })), 3);
  expect(new Set(ids.map((id) => foldOf(id))).size).toBe(5);
  await writeOutOfFold(runDir(run2.id), oof);
  const page = listSuspiciousLabels(db, projectId, { runId: run2.id });
  expect(page.method.outOfFold).toBe(true);
  expect(new Set(page.items.map((f) => f.imageId))).toEqual(flipped);
  for (const f of page.items) {
    expect(f.suggestedClassId).toBe(classIds[truth.get(f.imageId)!]);
    expect(f.judgedBy).toBe("out-of-fold");
  }
  // Per class: the accepted labels and how many of them are suspicious (8 flipped accepted labels in all).
  const accepted = Object.values(page.acceptedByClass);
  expect(accepted.reduce((s, c) => s + c.accepted, 0)).toBe(ids.length - 15);
  expect(accepted.reduce((s, c) => s + c.suspicious, 0)).toBe(8);
  for (const [classId, c] of Object.entries(page.acceptedByClass)) {
    const k = classIds.indexOf(Number(classId));
    expect(c.suspicious).toBe([...flipped].filter((id) => id !== ids[0] && id !== ids[4] && given.get(id) === k).length);
  }
});
