import { describe, expect, it } from "vitest";
import { exportMetrics } from "@/lib/ml/export";
import { splitHeldOut } from "@/lib/ml/heldout";
import { formatProportion, MIN_EVIDENCE_N, proportion, splitRunLabels, trainerHeldOutAccuracy, wilsonInterval } from "./ground-truth";

describe("proportions of human labels", () => {
  it("Wilson 95% intervals match published values", () => {
    // Newcombe (1998), table I: 81/263 -> 0.2553-0.3662; 15/148 -> 0.0624-0.1605; 0/20 -> 0-0.1611.
    const close = (got: [number, number] | null, want: [number, number]) => {
      expect(got![0]).toBeCloseTo(want[0], 4);
      expect(got![1]).toBeCloseTo(want[1], 4);
    };
    close(wilsonInterval(81, 263), [0.2553, 0.3662]);
    close(wilsonInterval(15, 148), [0.0624, 0.1605]);
    close(wilsonInterval(0, 20), [0, 0.1611]);
    expect(wilsonInterval(0, 0)).toBeNull();
  });

  it(`below ${MIN_EVIDENCE_N} labels the text is "not enough labels (n=…)", never a percentage`, () => {
    expect(formatProportion(proportion(3, 3))).toBe("not enough labels (n=3)");
    expect(formatProportion(proportion(1, 1))).toBe("not enough labels (n=1)");
    expect(formatProportion(proportion(0, 0))).toBe("not enough labels (n=0)");
    expect(formatProportion(proportion(MIN_EVIDENCE_N - 1, MIN_EVIDENCE_N - 1))).toMatch(/^not enough labels/);
    expect(proportion(3, 3)).toMatchObject({ k: 3, n: 3, value: 1, enough: false });
    // At the minimum and above: the share, its interval and n.
    expect(formatProportion(proportion(9, 10))).toBe("90% [60–98%] (n=10)");
    expect(formatProportion(proportion(30, 40))).toBe("75% [60–86%] (n=40)");
  });
});

describe("splitRunLabels: only human labels are held out", () => {
  const labeled = [
    ...Array.from({ length: 10 }, (_, i) => ({ imageId: i, classIndex: i % 2, source: "human" })),
    ...Array.from({ length: 30 }, (_, i) => ({ imageId: 100 + i, classIndex: i % 2, source: "accepted_proposal" })),
    ...Array.from({ length: 6 }, (_, i) => ({ imageId: 200 + i, classIndex: i % 2, source: "imported" })),
  ];

  it("accepted proposals and imported labels always train; the human ones are split as splitHeldOut splits them", () => {
    const split = splitRunLabels(labeled);
    expect(split.humanOnly).toBe(true);
    expect(split.heldOut.every((e) => e.source === "human")).toBe(true);
    const humanSplit = splitHeldOut(labeled.filter((e) => e.source === "human"));
    expect(split.heldOut.map((e) => e.imageId).sort()).toEqual(humanSplit.heldOut.map((e) => e.imageId).sort());
    expect(split.heldOut).toHaveLength(2); // round(20% of 5) per class
    expect(split.train).toHaveLength(labeled.length - 2);
    expect(split.train.filter((e) => e.source === "accepted_proposal")).toHaveLength(30);
    // The old split over every label would have held out accepted proposals (the circular figure).
    expect(splitHeldOut(labeled).heldOut.some((e) => e.source === "accepted_proposal")).toBe(true);
  });

  it("a project with no human labels holds nothing out", () => {
    const split = splitRunLabels(labeled.filter((e) => e.source !== "human"));
    expect(split.heldOut).toEqual([]);
  });

  it("a legacy snapshot (no sources) keeps the split it was trained with", () => {
    const legacy = labeled.map(({ imageId, classIndex }) => ({ imageId, classIndex }));
    const split = splitRunLabels(legacy);
    expect(split.humanOnly).toBe(false);
    expect(split.heldOut).toEqual(splitHeldOut(legacy).heldOut);
  });
});

describe("the trainer's held-out accuracy as shown and exported", () => {
  it("is shown only for runs whose held-out set was human-only, with n and interval", () => {
    expect(trainerHeldOutAccuracy({ heldOutAcc: 0.949, heldOutImages: 78 }).accuracy).toBeNull();
    expect(trainerHeldOutAccuracy({ heldOutAcc: 0.949, heldOutImages: 78 }).reason).toMatch(/accepted proposals/);
    expect(trainerHeldOutAccuracy({ heldOutBasis: "human", heldOutAcc: 0.75, heldOutCorrect: 30, heldOutImages: 40 }).accuracy).toMatchObject({
      k: 30,
      n: 40,
      value: 0.75,
      enough: true,
    });
    expect(trainerHeldOutAccuracy({ heldOutBasis: "human", heldOutAcc: null, heldOutImages: 0 })).toEqual({ accuracy: null, reason: "no human labels held out" });
  });

  it("metrics.json: the figure with its interval from n=10 on, the counts and the not-enough text below", () => {
    const run = { id: 1, modelVersion: "p1-r1", mode: "fixmatch", finishedAt: 0, config: {} };
    const enough = exportMetrics({ ...run, metrics: { heldOutBasis: "human", heldOutAcc: 0.75, heldOutCorrect: 30, heldOutImages: 40 } });
    expect(enough).toMatchObject({ heldOutAccuracy: 0.75, heldOutCorrect: 30, heldOutImages: 40, heldOutSummary: "75% [60–86%] (n=40)" });
    expect(enough.heldOutInterval95![0]).toBeCloseTo(wilsonInterval(30, 40)![0], 10);
    const few = exportMetrics({ ...run, metrics: { heldOutBasis: "human", heldOutAcc: 1, heldOutCorrect: 3, heldOutImages: 3 } });
    expect(few).toMatchObject({ heldOutAccuracy: null, heldOutInterval95: null, heldOutImages: 3, heldOutSummary: "not enough labels (n=3)" });
    const legacy = exportMetrics({ ...run, metrics: { heldOutAcc: 0.949, heldOutImages: 78 } });
    expect(legacy.heldOutAccuracy).toBeNull();
    expect(legacy.heldOutSummary).toMatch(/accepted proposals/);
  });
});
