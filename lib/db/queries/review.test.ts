import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { addImageRows, makePetsProject, makeTestDb, plansOf } from "@/lib/testing/db";
import { setHumanLabels } from "./labels";
import { createProject } from "./projects";
import { insertRejections, listOpenProposalConfidences, listPredictedImageIds, listProposalPage } from "./review";
import { createRun, updateRun, writePredictions } from "./training";

let db: Db;
let cleanup: () => void;
let projectId: number;
let cat: number, dog: number;
let ids: number[];

/** A succeeded run predicting each image as `classOf(i)` with confidence `confidenceOf(i)`. */
function addRun(project: number, imageIds: number[], classOf: (i: number) => number, confidenceOf: (i: number) => number) {
  const run = createRun(db, { projectId: project, mode: "fixmatch", config: { classIds: [cat, dog] }, totalSteps: 10 });
  updateRun(db, run.id, { status: "succeeded" });
  writePredictions(
    db,
    imageIds.map((imageId, i) => ({
      projectId: project,
      imageId,
      runId: run.id,
      modelVersion: run.modelVersion,
      probs: [confidenceOf(i), 1 - confidenceOf(i)],
      topClassId: classOf(i),
      confidence: confidenceOf(i),
    })),
  );
  return run;
}

beforeEach(() => {
  ({ db, cleanup } = makeTestDb());
  ({ projectId, classIds: [cat, dog], imageIds: ids } = makePetsProject(db, { images: 12, tag: "a" }));
});
afterEach(() => cleanup());

describe("listPredictedImageIds", () => {
  it("gives the run's images only, from the (run_id, image_id) index without reading the rows", () => {
    const older = addRun(projectId, ids.slice(0, 5), () => cat, () => 0.9);
    const run = addRun(projectId, ids.slice(3), () => dog, () => 0.8);
    const otherProject = createProject(db, { name: "other" }).id;
    addRun(otherProject, addImageRows(db, otherProject, 4, "b"), () => cat, () => 0.7);

    expect([...listPredictedImageIds(db, { projectId, runId: run.id })].sort((a, b) => a - b)).toEqual(ids.slice(3));
    expect(listPredictedImageIds(db, { projectId, runId: older.id }).size).toBe(5);
    const [plan] = plansOf(db, () => listPredictedImageIds(db, { projectId, runId: run.id }));
    expect(plan).toContain("COVERING INDEX predictions_run_image");
  });
});

describe("listOpenProposalConfidences", () => {
  it("lists open proposals most confident first, without sorting them again by image id", () => {
    // Confidences 0.50..0.94 by image; the even ones cat, the odd ones dog.
    const run = addRun(projectId, ids, (i) => (i % 2 ? dog : cat), (i) => 0.5 + 0.04 * i);
    setHumanLabels(db, projectId, { imageIds: [ids[11]], classId: cat }, "ann");
    insertRejections(db, [{ projectId, imageId: ids[10], classId: cat, modelVersion: run.modelVersion, actor: "ann" }]);
    const scope = { projectId, runId: run.id };

    const all = listOpenProposalConfidences(db, scope);
    expect(all.map((p) => p.imageId)).toEqual(ids.slice(0, 10).reverse());
    expect(listOpenProposalConfidences(db, scope, dog, 0.69).map((p) => [p.imageId, p.classId])).toEqual([
      [ids[9], dog],
      [ids[7], dog],
      [ids[5], dog],
    ]);
    // The whole run: the covering index read once, then sorted by confidence (cheaper than reading
    // every row in confidence order). With a class: that class's index range, walked backwards.
    const [, whole] = plansOf(db, () => listOpenProposalConfidences(db, scope));
    expect(whole).toContain("COVERING INDEX predictions_run_class_confidence (run_id=?)");
    const [, ofClass] = plansOf(db, () => listOpenProposalConfidences(db, scope, dog, 0.69));
    expect(ofClass).toContain("COVERING INDEX predictions_run_class_confidence (run_id=? AND top_class_id=? AND confidence>?)");
    expect(ofClass).not.toContain("TEMP B-TREE");
  });
});

describe("listProposalPage", () => {
  it("pages a class's open proposals most confident first, ties by image id, with their total", () => {
    // Image i: cat when i % 3 != 2 (else dog), confidence 0.9 for i < 4 (a tie), then falling.
    const confidenceOf = (i: number) => (i < 4 ? 0.9 : 0.85 - 0.02 * i);
    const older = addRun(projectId, ids, () => cat, () => 0.99);
    const run = addRun(projectId, ids, (i) => (i % 3 === 2 ? dog : cat), confidenceOf);
    // Another project's run, and rejections: of this run's version (hides ids[1] as cat), of the
    // older version (no effect here), of this version but another class (no effect).
    const otherProject = createProject(db, { name: "other", classes: [{ name: "x" }] }).id;
    addRun(otherProject, addImageRows(db, otherProject, 4, "b"), () => cat, () => 0.95);
    insertRejections(db, [
      { projectId, imageId: ids[1], classId: cat, modelVersion: run.modelVersion, actor: "ann" },
      { projectId, imageId: ids[3], classId: cat, modelVersion: older.modelVersion, actor: "ann" },
      { projectId, imageId: ids[4], classId: dog, modelVersion: run.modelVersion, actor: "ann" },
    ]);
    setHumanLabels(db, projectId, { imageIds: [ids[6]], classId: dog }, "ann");
    const q = { projectId, runId: run.id, classId: cat, minConfidence: 0.66, limit: 3 };

    // Cats: 0, 1, 3, 4, 6, 7, 9, 10; ids[1] rejected, ids[6] labeled, ids[10] under 0.66.
    const expected = [0, 3, 4, 7, 9].map((i) => ids[i]);
    const first = listProposalPage(db, { ...q, offset: 0 });
    const second = listProposalPage(db, { ...q, offset: 3 });
    expect(first.total).toBe(5);
    expect(second.total).toBe(5);
    expect([...first.rows, ...second.rows].map((r) => r.imageId)).toEqual(expected);
    expect(first.rows[1]).toEqual({ imageId: ids[3], name: "a3.png", width: 8, height: 8, classId: cat, confidence: 0.9, probs: [0.9, 1 - 0.9] });
    expect(listProposalPage(db, { ...q, offset: 5 }).rows).toEqual([]);
    expect(listProposalPage(db, { ...q, classId: dog, minConfidence: 0, offset: 0, limit: 10 }).rows.map((r) => r.imageId)).toEqual([2, 5, 8, 11].map((i) => ids[i]));
    expect(listProposalPage(db, { ...q, runId: older.id, offset: 0, limit: 20 }).total).toBe(10);

    // The total and the page's ids from the (run, class, confidence, image) index alone; rows for the page's images only.
    const [, count, page] = plansOf(db, () => listProposalPage(db, { ...q, offset: 3 }));
    expect(count).toContain("SEARCH predictions USING COVERING INDEX predictions_run_class_confidence (run_id=? AND top_class_id=? AND confidence>?)");
    expect(page).toContain("SEARCH predictions USING COVERING INDEX predictions_run_class_confidence (run_id=? AND top_class_id=? AND confidence>?)");
    expect(page).toContain("SEARCH predictions USING INDEX predictions_run_image (run_id=? AND image_id=?)");
  });
});
