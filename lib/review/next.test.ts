import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { setHumanLabels } from "@/lib/db/queries/labels";
import { createRun, updateRun, writePredictions } from "@/lib/db/queries/training";
import { writeEmbeddings } from "@/lib/ml/embeddings";
import { makePetsProject, makeTestDb } from "@/lib/testing/db";
import { byUncertainty, kCenterGreedy, pickNextToLabel, topByUncertainty, uncertainty } from "./next";
import { runSnapshotPath } from "./precision";

describe("uncertainty", () => {
  it("margin: 1 - (p1 - p2)", () => {
    expect(uncertainty([0.5, 0.3, 0.2], "margin")).toBeCloseTo(0.8);
    expect(uncertainty([0.2, 0.5, 0.3], "margin")).toBeCloseTo(0.8);
    expect(uncertainty([1, 0, 0], "margin")).toBe(0);
    expect(uncertainty([0.5, 0.5], "margin")).toBe(1);
  });
  it("entropy, normalised by log K: 1 when uniform, 0 when sure", () => {
    expect(uncertainty([0.25, 0.25, 0.25, 0.25], "entropy")).toBeCloseTo(1);
    expect(uncertainty([1, 0, 0], "entropy")).toBe(0);
    // -(0.9 ln 0.9 + 0.1 ln 0.1) / ln 2 = 0.469
    expect(uncertainty([0.9, 0.1], "entropy")).toBeCloseTo(0.469, 3);
  });
});

describe("kCenterGreedy", () => {
  // Three near-copies that the model finds very uncertain, and one different, less uncertain image.
  const candidates = [
    { imageId: 1, uncertainty: 0.95, vector: [0, 0] },
    { imageId: 2, uncertainty: 0.94, vector: [0.01, 0] },
    { imageId: 3, uncertainty: 0.93, vector: [0, 0.01] },
    { imageId: 4, uncertainty: 0.6, vector: [1, 1] },
  ].sort(byUncertainty);

  it("starts with the most uncertain and takes the different one second", () => {
    expect(kCenterGreedy(candidates, 2).map((c) => c.imageId)).toEqual([1, 4]);
  });

  it("fills up with the near-copies only after that, the more uncertain first on a tie", () => {
    // 2 and 3 are both 0.01 from image 1 (and farther from 4): a tie, won by the earlier, more uncertain one.
    expect(kCenterGreedy(candidates, 10).map((c) => c.imageId)).toEqual([1, 4, 2, 3]);
  });

  it("is deterministic: equal uncertainty is ordered by image id", () => {
    const tied = [
      { imageId: 9, uncertainty: 0.5, vector: [0] },
      { imageId: 3, uncertainty: 0.5, vector: [0] },
    ].sort(byUncertainty);
    expect(tied.map((c) => c.imageId)).toEqual([3, 9]);
    expect(kCenterGreedy([], 3)).toEqual([]);
  });
});

describe("topByUncertainty", () => {
  it("is the first m of a full sort, ties by image id included, without sorting everything", () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    // Uncertainties on a coarse grid, so many tie and the image id decides.
    const items = Array.from({ length: 5000 }, (_, i) => ({ imageId: 5000 - i, uncertainty: Math.floor(random() * 50) / 50 }));
    const sorted = [...items].sort(byUncertainty);
    for (const m of [1, 7, 600, 4999, 5000, 6000]) expect(topByUncertainty(items, m)).toEqual(sorted.slice(0, m));
    expect(topByUncertainty(items, 0)).toEqual([]);
    expect(topByUncertainty([], 3)).toEqual([]);
  });
});

describe("pickNextToLabel", () => {
  let db: Db;
  let cleanup: () => void;
  let projectId: number;
  let cat: number, dog: number;
  let ids: number[];

  beforeEach(() => {
    ({ db, cleanup } = makeTestDb());
    ({ projectId, classIds: [cat, dog], imageIds: ids } = makePetsProject(db, { images: 6 }));
  });
  afterEach(() => cleanup());

  /** A succeeded run; probs[i] is p(cat) of ids[i]. */
  function addRun(pCat: number[]) {
    const run = createRun(db, { projectId, mode: "fixmatch", config: { classIds: [cat, dog] }, totalSteps: 10 });
    updateRun(db, run.id, { status: "succeeded" });
    writePredictions(
      db,
      pCat.map((p, i) => ({
        projectId,
        imageId: ids[i],
        runId: run.id,
        modelVersion: run.modelVersion,
        probs: [p, 1 - p],
        topClassId: p >= 0.5 ? cat : dog,
        confidence: Math.max(p, 1 - p),
      })),
    );
    return run;
  }

  it("without a run: no picks", () => {
    expect(pickNextToLabel(db, projectId, {})).toMatchObject({ run: null, items: [] });
  });

  it("ranks unlabeled images by margin, spreads them over the probability vectors without embeddings, and leaves labeled ones out", () => {
    // ids[0..2] near 50/50, ids[3] fairly sure dog, ids[4] sure cat, ids[5] the most uncertain but labeled.
    addRun([0.5, 0.52, 0.45, 0.2, 0.99, 0.5]);
    setHumanLabels(db, projectId, { imageIds: [ids[5]], classId: cat }, "ann");
    const picks = pickNextToLabel(db, projectId, { limit: 3 });
    expect(picks.diversity).toBe("probabilities");
    expect(picks.unlabeled).toBe(5);
    // Most uncertain first (margin 0 for ids[0]); then the farthest in probability space, ids[4] at 0.99 cat.
    expect(picks.items.map((p) => p.imageId)).toEqual([ids[0], ids[4], ids[3]]);
    expect(picks.items[0]).toMatchObject({ rank: 1, uncertainty: 1, topClassId: cat, confidence: 0.5, runnerUpClassId: dog, name: "img0.png" });
    expect(picks.items[1].uncertainty).toBeCloseTo(0.02);
  });

  it("measures diversity on the run's embeddings when it wrote them", async () => {
    // Pool of 3 (ids[5] is labeled): ids[0] (margin 0), ids[2] (0.04), ids[1] (0.1).
    const run = addRun([0.5, 0.45, 0.52, 0.2, 0.99, 0.5]);
    setHumanLabels(db, projectId, { imageIds: [ids[5]], classId: cat }, "ann");
    // In probability space ids[1] is the farther from ids[0]; in feature space ids[2] is the odd one out.
    const features = [
      [1, 0],
      [1, 0.01],
      [0, 1],
      [0.7, 0.7],
      [1, 0.02],
      [1, 0],
    ];
    const dir = path.dirname(runSnapshotPath(run.id));
    await writeEmbeddings(dir, { dim: 2, imageIds: ids, values: new Float32Array(features.flat()) });
    const picks = pickNextToLabel(db, projectId, { limit: 2, pool: 3 });
    expect(picks).toMatchObject({ diversity: "embeddings", pool: 3, unlabeled: 5 });
    expect(picks.items.map((p) => p.imageId)).toEqual([ids[0], ids[2]]);

    fs.rmSync(path.join(dir, "embeddings.json"));
    const fallback = pickNextToLabel(db, projectId, { limit: 2, pool: 3 });
    expect(fallback.diversity).toBe("probabilities");
    expect(fallback.items.map((p) => p.imageId)).toEqual([ids[0], ids[1]]);
  });
});
