import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { setHumanLabels } from "@/lib/db/queries/labels";
import { createRun, updateRun, writePredictions } from "@/lib/db/queries/training";
import { labels } from "@/lib/db/schema";
import { makePetsProject, makeTestDb } from "@/lib/testing/db";
import { dismissSuspicious, findSuspicious, listSuspiciousLabels, restoreSuspicious, selfConfidenceThresholds, type LabeledPrediction } from "./suspicious";

const CAT = 1;
const DOG = 2;

// Labeled images with the model's [p(cat), p(dog)].
const rows: LabeledPrediction[] = [
  { imageId: 1, labelClassId: CAT, labelSource: "human", probs: [0.9, 0.1] },
  { imageId: 2, labelClassId: CAT, labelSource: "human", probs: [0.7, 0.3] },
  { imageId: 3, labelClassId: CAT, labelSource: "human", probs: [0.2, 0.8] },
  { imageId: 4, labelClassId: DOG, labelSource: "human", probs: [0.4, 0.6] },
  { imageId: 5, labelClassId: DOG, labelSource: "human", probs: [0.1, 0.9] },
  { imageId: 6, labelClassId: DOG, labelSource: "accepted_proposal", probs: [0.55, 0.45] },
  { imageId: 7, labelClassId: DOG, labelSource: "human", probs: [0.95, 0.05] },
];

describe("confident-learning thresholds and flags", () => {
  it("a class's threshold is the mean probability of that class over the images labeled with it", () => {
    const t = selfConfidenceThresholds(rows, [CAT, DOG]);
    // cat: (0.9 + 0.7 + 0.2) / 3 = 0.6; dog: (0.6 + 0.9 + 0.45 + 0.05) / 4 = 0.5
    expect(t.get(CAT)).toBeCloseTo(0.6);
    expect(t.get(DOG)).toBeCloseTo(0.5);
  });

  it("flags labels whose contradicting top class reaches its threshold, most confident first", () => {
    const flags = findSuspicious(rows, [CAT, DOG], selfConfidenceThresholds(rows, [CAT, DOG]));
    // 7: labeled dog, cat 0.95 >= 0.6; 3: labeled cat, dog 0.8 >= 0.5; 6: labeled dog, cat 0.55 < 0.6 -> not flagged.
    expect(flags.map((f) => [f.imageId, f.suggestedClassId, f.confidence])).toEqual([
      [7, CAT, 0.95],
      [3, DOG, 0.8],
    ]);
    expect(flags[0]).toMatchObject({ labelClassId: DOG, labelProb: 0.05 });
    expect(flags[0].threshold).toBeCloseTo(0.6);
  });

  it("cannot judge a class the run did not know, nor flag toward a class nobody labeled", () => {
    const extra: LabeledPrediction[] = [{ imageId: 8, labelClassId: 99, labelSource: "human", probs: [0.99, 0.01] }];
    expect(findSuspicious(extra, [CAT, DOG], new Map([[CAT, 0.5]]))).toEqual([]);
    const onlyCats: LabeledPrediction[] = [{ imageId: 9, labelClassId: CAT, labelSource: "human", probs: [0.01, 0.99] }];
    expect(findSuspicious(onlyCats, [CAT, DOG], selfConfidenceThresholds(onlyCats, [CAT, DOG]))).toEqual([]);
  });
});

describe("listSuspiciousLabels, keep and undo", () => {
  let db: Db;
  let cleanup: () => void;
  let projectId: number;
  let cat: number, dog: number;
  let ids: number[];
  let runId: number;

  beforeEach(() => {
    ({ db, cleanup } = makeTestDb());
    ({ projectId, classIds: [cat, dog], imageIds: ids } = makePetsProject(db, { images: rows.length }));
    const classOf = (c: number) => (c === CAT ? cat : dog);
    for (const [i, r] of rows.entries()) setHumanLabels(db, projectId, { imageIds: [ids[i]], classId: classOf(r.labelClassId) }, "ann");
    // Image 6 as an accepted proposal, image 7 as imported: sources decide what is listed.
    db.update(labels).set({ source: "accepted_proposal" }).where(eq(labels.imageId, ids[5])).run();
    db.update(labels).set({ source: "imported" }).where(eq(labels.imageId, ids[6])).run();
    const run = createRun(db, { projectId, mode: "fixmatch", config: { classIds: [cat, dog] }, totalSteps: 10 });
    updateRun(db, run.id, { status: "succeeded" });
    runId = run.id;
    writePredictions(
      db,
      rows.map((r, i) => ({
        projectId,
        imageId: ids[i],
        runId: run.id,
        modelVersion: run.modelVersion,
        probs: [...r.probs],
        topClassId: r.probs[0] >= r.probs[1] ? cat : dog,
        confidence: Math.max(...r.probs),
      })),
    );
  });
  afterEach(() => cleanup());

  it("lists human and accepted labels by default; imported ones when asked", () => {
    // Image 7 (ids[6]) is imported now: left out by default.
    const page = listSuspiciousLabels(db, projectId, {});
    expect(page.items.map((i) => i.imageId)).toEqual([ids[2]]);
    expect(page.items[0]).toMatchObject({ name: "img2.png", labelClassId: cat, suggestedClassId: dog, confidence: 0.8 });
    expect(page.thresholds[cat]).toBeCloseTo(0.6);
    const all = listSuspiciousLabels(db, projectId, { sources: "human,accepted_proposal,imported" });
    expect(all.items.map((i) => i.imageId)).toEqual([ids[6], ids[2]]);
    expect(() => listSuspiciousLabels(db, projectId, { sources: "robot" })).toThrow();
  });

  it("keep hides a flag for this model version until the label changes; undo brings it back", () => {
    expect(dismissSuspicious(db, projectId, { runId, imageIds: [ids[2]] }, "ann")).toEqual({ dismissed: 1 });
    expect(listSuspiciousLabels(db, projectId, {}).total).toBe(0);
    expect(restoreSuspicious(db, projectId, { runId, imageIds: [ids[2]] })).toEqual({ restored: 1 });
    expect(listSuspiciousLabels(db, projectId, {}).total).toBe(1);

    // Relabeled to what the model says, it is no longer suspicious at all.
    dismissSuspicious(db, projectId, { runId, imageIds: [ids[2]] }, "ann");
    setHumanLabels(db, projectId, { imageIds: [ids[2]], classId: dog }, "ann");
    expect(listSuspiciousLabels(db, projectId, {}).total).toBe(0);
  });
});
