import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { labels } from "@/lib/db/schema";
import { makePetsProject, makeTestDb } from "@/lib/testing/db";
import { createProject, getProjectWithClasses, listProjects } from "./projects";
import { deleteClass } from "./classes";
import { listGridPage } from "./grid";
import { getLabelCounts, getLabelHistory, recordLabelChanges, setHumanLabels, undoLastLabelAction } from "./labels";

let db: Db;
let cleanup: () => void;
let projectId: number;
let cat: number, dog: number, bird: number;
let ids: number[];

beforeEach(() => {
  ({ db, cleanup } = makeTestDb());
  ({ projectId, classIds: [cat, dog, bird], imageIds: ids } = makePetsProject(db, { images: 10, classes: ["cat", "dog", "bird"] }));
});
afterEach(() => cleanup());

describe("labels", () => {
  it("sets labels, counts them and keeps a history per image", () => {
    expect(setHumanLabels(db, projectId, { imageIds: ids.slice(0, 3), classId: cat }, "ann").changed).toBe(3);
    setHumanLabels(db, projectId, { imageIds: [ids[0]], classId: dog }, "bob");
    expect(getLabelCounts(db, projectId)).toMatchObject({
      total: 10,
      labeled: 3,
      unlabeled: 7,
      byClass: { [cat]: 2, [dog]: 1 },
      bySource: { human: 3, imported: 0, accepted_proposal: 0 },
    });
    expect(listProjects(db).find((p) => p.id === projectId)).toMatchObject({ imageCount: 10, labeledCount: 3 });
    const history = getLabelHistory(db, ids[0]);
    expect(history.map((h) => [h.prevClassId, h.classId, h.actor])).toEqual([
      [null, cat, "ann"],
      [cat, dog, "bob"],
    ]);
  });

  it("does not record an action when nothing changes", () => {
    setHumanLabels(db, projectId, { imageIds: [ids[0]], classId: cat }, "ann");
    expect(setHumanLabels(db, projectId, { imageIds: [ids[0]], classId: cat }, "ann")).toEqual({ actionId: null, changed: 0 });
    expect(getLabelHistory(db, ids[0])).toHaveLength(1);
  });

  it("rejects images of another project and classes of another project", () => {
    const other = createProject(db, { name: "other", classes: [{ name: "x" }] });
    const otherClass = getProjectWithClasses(db, other.id).classes[0].id;
    expect(() => setHumanLabels(db, other.id, { imageIds: [ids[0]], classId: otherClass }, "ann")).toThrow(/not in this project/);
    expect(() => setHumanLabels(db, projectId, { imageIds: [ids[0]], classId: otherClass }, "ann")).toThrow(/not a class of this project/);
  });

  it("undo reverts the latest action, then the one before, and survives a fresh connection", () => {
    setHumanLabels(db, projectId, { imageIds: [ids[0], ids[1]], classId: cat }, "ann");
    setHumanLabels(db, projectId, { imageIds: [ids[1], ids[2]], classId: dog }, "ann");
    const first = undoLastLabelAction(db, projectId, "ann");
    expect(first).toMatchObject({ restored: 2, skipped: 0 });
    let counts = getLabelCounts(db, projectId);
    expect(counts.byClass).toEqual({ [cat]: 2 });
    const second = undoLastLabelAction(db, projectId, "ann");
    expect(second.restored).toBe(2);
    counts = getLabelCounts(db, projectId);
    expect(counts.labeled).toBe(0);
    expect(undoLastLabelAction(db, projectId, "ann").undoneActionId).toBeNull();
    // History keeps every step, undo included.
    expect(getLabelHistory(db, ids[1]).map((h) => h.classId)).toEqual([cat, dog, cat, null]);
  });

  it("undo leaves alone an image that was changed by a later action it does not own", () => {
    setHumanLabels(db, projectId, { imageIds: [ids[0]], classId: cat }, "ann");
    // A non-undoable action (an import) changes the same image afterwards.
    recordLabelChanges(db, { projectId, imageIds: [ids[0]], classId: bird, source: "imported", actor: "import", kind: "import" });
    expect(undoLastLabelAction(db, projectId, "ann")).toMatchObject({ restored: 0, skipped: 1 });
    expect(getLabelCounts(db, projectId).byClass).toEqual({ [bird]: 1 });
  });

  it("undo restores the label before with its provenance: source, model version, each image's confidence, actor", () => {
    const accepted = recordLabelChanges(db, {
      projectId,
      imageIds: [ids[0], ids[1]],
      classId: cat,
      source: "accepted_proposal",
      actor: "rev",
      kind: "accept",
      modelVersion: "p1-r1",
      confidenceByImage: new Map([
        [ids[0], 0.97],
        [ids[1], 0.91],
      ]),
    });
    setHumanLabels(db, projectId, { imageIds: [ids[0], ids[1], ids[2]], classId: dog }, "ann");
    expect(undoLastLabelAction(db, projectId, "bob")).toMatchObject({ restored: 3, skipped: 0 });
    const rows = db.select().from(labels).orderBy(labels.imageId).all();
    expect(rows.map((l) => [l.imageId, l.classId, l.source, l.modelVersion, l.confidence, l.actor, l.actionId])).toEqual([
      [ids[0], cat, "accepted_proposal", "p1-r1", 0.97, "rev", accepted.actionId],
      [ids[1], cat, "accepted_proposal", "p1-r1", 0.91, "rev", accepted.actionId],
    ]);
    const last = getLabelHistory(db, ids[1]).at(-1)!;
    expect(last).toMatchObject({ prevClassId: dog, classId: cat, source: "accepted_proposal", actor: "bob", modelVersion: "p1-r1", confidence: 0.91 });
  });

  it("labels and undoes more images at once than SQLite binds values in one statement (32,766)", () => {
    const insert = db.$client.prepare("insert into images (project_id, sha256, original_name, format, width, height, bytes, channels) values (?, ?, ?, 'png', 8, 8, 100, 3)");
    const many = db.$client.transaction(() =>
      Array.from({ length: 33_000 }, (_, i) => Number(insert.run(projectId, `m${i}`.padStart(64, "0"), `m${i}.png`).lastInsertRowid)),
    )();
    expect(setHumanLabels(db, projectId, { imageIds: many, classId: cat }, "ann").changed).toBe(33_000);
    expect(setHumanLabels(db, projectId, { imageIds: many, classId: dog }, "ann").changed).toBe(33_000);
    expect(undoLastLabelAction(db, projectId, "bob")).toMatchObject({ restored: 33_000, skipped: 0 });
    expect(getLabelCounts(db, projectId).byClass).toEqual({ [cat]: 33_000 });
    expect(getLabelHistory(db, many[32_999]).map((h) => [h.classId, h.actor])).toEqual([
      [cat, "ann"],
      [dog, "ann"],
      [cat, "bob"],
    ]);
  });

  it("the grid filters by unlabeled and by class and pages by offset", () => {
    setHumanLabels(db, projectId, { imageIds: ids.slice(0, 4), classId: cat }, "ann");
    expect(listGridPage(db, projectId, { filter: "unlabeled" }).total).toBe(6);
    const page = listGridPage(db, projectId, { filter: "class", classId: cat, offset: 1, limit: 2 });
    expect(page.total).toBe(4);
    expect(page.items.map((i) => i.id)).toEqual([ids[1], ids[2]]);
    expect(page.items[0].label).toEqual({ classId: cat, source: "human" });
    expect(listGridPage(db, projectId, { filter: "all", offset: 9 }).items[0]).toMatchObject({ id: ids[9], label: null });
  });
});

describe("deleting a class", () => {
  it("refuses while it holds labels, then unlabels or moves them as asked", () => {
    setHumanLabels(db, projectId, { imageIds: ids.slice(0, 3), classId: cat }, "ann");
    setHumanLabels(db, projectId, { imageIds: ids.slice(3, 5), classId: dog }, "ann");
    expect(() => deleteClass(db, projectId, cat, {}, "ann")).toThrow(/holds 3 labels/);
    expect(deleteClass(db, projectId, cat, { labels: "move", moveTo: bird }, "ann")).toEqual({ labelsAffected: 3 });
    expect(deleteClass(db, projectId, dog, { labels: "unlabel" }, "ann")).toEqual({ labelsAffected: 2 });
    const { classes } = getProjectWithClasses(db, projectId);
    expect(classes.map((c) => [c.name, c.position])).toEqual([["bird", 0]]);
    expect(getLabelCounts(db, projectId)).toMatchObject({ labeled: 3, byClass: { [bird]: 3 } });
    // Z does not bring a deleted class back: undoing "label as dog" finds the dog labels gone.
    expect(undoLastLabelAction(db, projectId, "ann")).toMatchObject({ restored: 0, skipped: 2 });
    expect(getLabelCounts(db, projectId).labeled).toBe(3);
  });
});
