import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { addImageRows, makePetsProject, makeTestDb, plansOf } from "@/lib/testing/db";
import { countAcceptedProposals, listLabelSourceHistory } from "./insights";
import { createLabelAction, recordLabelChanges, setHumanLabels, undoLastLabelAction } from "./labels";
import { createProject, getProjectWithClasses } from "./projects";

let db: Db;
let cleanup: () => void;
let projectId: number;
let cat: number, dog: number;
let ids: number[];

/** Accepts proposals of `modelVersion` for these images as `classId`, as lib/review/proposals.ts does: one "accept" action. */
function accept(project: number, imageIds: number[], classId: number, modelVersion: string) {
  const actionId = createLabelAction(db, project, "accept", "ann");
  recordLabelChanges(db, { projectId: project, imageIds, classId, source: "accepted_proposal", actor: "ann", kind: "accept", actionId, modelVersion, confidence: 0.9 });
}

beforeEach(() => {
  ({ db, cleanup } = makeTestDb());
  ({ projectId, classIds: [cat, dog], imageIds: ids } = makePetsProject(db, { images: 6, tag: "a" }));
});
afterEach(() => cleanup());

describe("listLabelSourceHistory", () => {
  it("gives the changes of the images asked about, oldest first, through the label_events(image_id) index", () => {
    setHumanLabels(db, projectId, { imageIds: [ids[0], ids[1], ids[2]], classId: cat }, "ann");
    accept(projectId, [ids[3]], dog, "v1");
    setHumanLabels(db, projectId, { imageIds: [ids[0]], classId: dog }, "ann");
    setHumanLabels(db, projectId, { imageIds: [ids[2]], classId: null }, "ann");

    const history = listLabelSourceHistory(db, projectId, [ids[2], ids[0], ids[3]]);
    expect(history.map((e) => [e.imageId, e.source])).toEqual([
      [ids[0], "human"],
      [ids[2], "human"],
      [ids[3], "accepted_proposal"],
      [ids[0], "human"],
      [ids[2], null],
    ]);
    expect(history.map((e) => e.id)).toEqual(history.map((e) => e.id).sort((a, b) => a - b));
    expect(listLabelSourceHistory(db, projectId, [])).toEqual([]);
    const [plan] = plansOf(db, () => listLabelSourceHistory(db, projectId, [ids[0]]));
    expect(plan).toContain("SEARCH label_events USING INDEX label_events_image (image_id=?)");
  });

  it("keeps the whole list oldest first when the ids take several chunks", () => {
    setHumanLabels(db, projectId, { imageIds: [ids[4]], classId: cat }, "ann");
    setHumanLabels(db, projectId, { imageIds: [ids[1]], classId: dog }, "ann");
    // ids[1] in the first chunk of 5,000, ids[4] in the second; the ids between have no events.
    const asked = [ids[1], ...Array.from({ length: 5000 }, (_, i) => 1_000_000 + i), ids[4]];
    expect(listLabelSourceHistory(db, projectId, asked).map((e) => e.imageId)).toEqual([ids[4], ids[1]]);
  });
});

describe("countAcceptedProposals", () => {
  it("counts images accepted from this version in accept actions not undone, starting from the project's accept actions", () => {
    accept(projectId, [ids[0], ids[1]], cat, "v1");
    accept(projectId, [ids[2]], dog, "v2");
    accept(projectId, [ids[3]], cat, "v1");
    undoLastLabelAction(db, projectId, "ann");
    // Accepted again (a later accept of the same image counts once).
    accept(projectId, [ids[0]], dog, "v1");
    const other = createProject(db, { name: "other", classes: [{ name: "x" }] });
    accept(other.id, addImageRows(db, other.id, 2, "b"), getProjectWithClasses(db, other.id).classes[0].id, "v1");

    expect(countAcceptedProposals(db, projectId, "v1")).toBe(2);
    expect(countAcceptedProposals(db, projectId, "v2")).toBe(1);
    expect(countAcceptedProposals(db, other.id, "v1")).toBe(2);
    expect(countAcceptedProposals(db, projectId, "v3")).toBe(0);
    const [plan] = plansOf(db, () => countAcceptedProposals(db, projectId, "v1"));
    expect(plan).toContain("SEARCH label_events USING INDEX label_events_action (action_id=?)");
    expect(plan).toContain("SEARCH label_actions USING INDEX label_actions_project (project_id=?)");
    expect(plan).not.toContain("SCAN label_events");
  });
});
