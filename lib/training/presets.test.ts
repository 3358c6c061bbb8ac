import { describe, expect, it } from "vitest";
import { PRESET_NAMES, PRESETS } from "@/lib/ml/presets";
import { DEFAULT_TRAIN_CONFIG } from "@/lib/ml/config";
import { modelChoice, TRAINING_PRESET_NAMES, TRAINING_PRESETS } from "./presets";

describe("the web app's preset catalog", () => {
  it("lists exactly lib/ml's presets", () => {
    expect([...TRAINING_PRESET_NAMES].sort()).toEqual([...PRESET_NAMES].sort());
    expect(TRAINING_PRESETS.map((p) => p.name).sort()).toEqual([...PRESET_NAMES].sort());
  });

  it.each(TRAINING_PRESETS.map((p) => [p.name, p] as const))("%s starts from the values lib/ml trains with", (name, info) => {
    // Resolved as the worker resolves a run's config: the defaults, then the preset.
    const real = { ...DEFAULT_TRAIN_CONFIG, ...PRESETS[name] };
    const { model, ...rest } = info.defaults;
    expect(modelChoice(model)?.spec).toEqual(real.model);
    expect(rest).toEqual({ inputSize: real.inputSize, steps: real.steps, batchSize: real.batchSize, mu: real.mu, threshold: real.threshold, distributionAlignment: real.distributionAlignment, timeBudgetS: real.timeBudgetS ?? null });
  });
});
