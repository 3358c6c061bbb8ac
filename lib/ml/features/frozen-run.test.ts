/**
 * The frozen run's head config (HEAD_DEFAULTS replace the image preset's values, the user's explicit
 * choices win over both), and the rules that pick a head on held-out labels.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from "../config";
import { PRESETS } from "../presets";
import { HEAD_DEFAULTS } from "./head-train";
import { explicitHeadFields, fixmatchWins, headConfigFor, pickInstant } from "./frozen-run";

const quickCpu: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, ...PRESETS["quick-cpu"], numClasses: 3, channels: 3 };

describe("headConfigFor", () => {
  it("replaces the image preset's B, mu, EMA, steps and alignment with HEAD_DEFAULTS when the user chose none of them", () => {
    // The preset's own values differ from the head's (else this test could not tell them apart).
    expect(quickCpu.batchSize).not.toBe(HEAD_DEFAULTS.batchSize);
    expect(quickCpu.mu).not.toBe(HEAD_DEFAULTS.mu);
    expect(quickCpu.distributionAlignment).not.toBe(HEAD_DEFAULTS.distributionAlignment);
    const head = headConfigFor({ ...quickCpu, threshold: 0.9 }, explicitHeadFields({ overrides: { threshold: 0.9 } }));
    expect(head).toMatchObject({ batchSize: 64, mu: 7, emaDecay: 0.99, steps: 3000, distributionAlignment: true, hidden: 0 });
    // What HEAD_DEFAULTS do not name still follows the run (here the user's tau, and the preset's lr).
    expect(head.threshold).toBe(0.9);
    expect(head.lr).toBe(quickCpu.lr);
  });

  it("keeps every field the user set explicitly: batch size, mu, alignment, EMA, steps", () => {
    const request = { steps: 250, overrides: { batchSize: 8, mu: 2, distributionAlignment: false, emaDecay: 0.9, threshold: 0.8, backbone: null } };
    // The resolved run config carries the overrides too (the worker merges them over the preset).
    const config: TrainConfig = { ...quickCpu, batchSize: 8, mu: 2, distributionAlignment: false, emaDecay: 0.9, threshold: 0.8, steps: 250 };
    const explicit = explicitHeadFields(request);
    expect(explicit).toEqual({ steps: 250, batchSize: 8, mu: 2, distributionAlignment: false, emaDecay: 0.9 });
    expect(headConfigFor(config, explicit)).toMatchObject({ steps: 250, batchSize: 8, mu: 2, distributionAlignment: false, emaDecay: 0.9, threshold: 0.8, distributionAlignmentMomentum: 0.99 });
  });

  it("a time budget raises the steps to the run's when the user gave no steps; explicit steps still win", () => {
    const budget: TrainConfig = { ...quickCpu, timeBudgetS: 60, steps: 50_000 };
    expect(headConfigFor(budget).steps).toBe(50_000);
    expect(headConfigFor({ ...budget, steps: 500 }).steps).toBe(3000);
    expect(headConfigFor(budget, explicitHeadFields({ steps: 700, overrides: { timeBudgetS: 60 } })).steps).toBe(700);
  });

  it("takes nothing from a request without choices", () => {
    expect(explicitHeadFields(undefined)).toEqual({});
    expect(explicitHeadFields({ overrides: { model: { kind: "resnet" }, inputSize: 64 } })).toEqual({});
  });
});

describe("choosing a head on held-out labels", () => {
  it("the class mean only when strictly better than the probe; FixMatch only when strictly better than the instant head", () => {
    expect(pickInstant({ "linear-probe": 0.5, "class-mean": 0.5 })).toBe("linear-probe");
    expect(pickInstant({ "linear-probe": 0.5, "class-mean": 0.6 })).toBe("class-mean");
    expect(pickInstant({ "linear-probe": null, "class-mean": null })).toBe("linear-probe");
    expect(fixmatchWins({ "linear-probe": 0.5, fixmatch: 0.5 }, "linear-probe")).toBe(false);
    expect(fixmatchWins({ "linear-probe": 0.5, fixmatch: 0.55 }, "linear-probe")).toBe(true);
    // Not measured (no held-out labels): the instant head stays.
    expect(fixmatchWins({ "linear-probe": null, fixmatch: null }, "linear-probe")).toBe(false);
  });
});
