/**
 * What the web app knows about training presets: names, one-line descriptions, and the values the
 * advanced settings start from. lib/ml/presets.ts holds the real configs, but it builds models and
 * so imports tfjs, which must stay out of the web server and the browser; presets.test.ts checks
 * that the two agree.
 *
 * Pure data, no imports: the browser bundle reads it too.
 */

/** The model architectures the settings offer, as lib/ml's ModelSpec. */
export const MODEL_CHOICES = [
  // Half the width of the default: on small gray images (28 px Fashion-MNIST) it takes twice the
  // FixMatch steps in the same time, which measured better than width 16 (bench/fashion-mnist.ts).
  { name: "resnet-8x1", label: "Tiny ResNet (width 8, 1 block/stage, ~20k weights)", spec: { kind: "resnet", width: 8, blocks: 1 } },
  { name: "resnet-16x1", label: "Compact ResNet (width 16, 1 block/stage, ~80k weights)", spec: { kind: "resnet", width: 16, blocks: 1 } },
  { name: "resnet-32x2", label: "ResNet (width 32, 2 blocks/stage, ~0.7M weights)", spec: { kind: "resnet", width: 32, blocks: 2 } },
  { name: "wrn-28-2", label: "WRN-28-2 (FixMatch paper, 1.5M weights)", spec: { kind: "wrn", depth: 28, widenFactor: 2 } },
] as const;

export type ModelChoiceName = (typeof MODEL_CHOICES)[number]["name"];
export type ModelSpecData = (typeof MODEL_CHOICES)[number]["spec"];

/** The settings a user may change; each preset gives all of them. */
export type TrainingSettings = {
  model: ModelChoiceName;
  inputSize: number;
  steps: number;
  batchSize: number;
  mu: number;
  threshold: number;
  /** Distribution alignment (ReMixMatch), off in both presets: a FixMatch option. */
  distributionAlignment: boolean;
  /**
   * A wall-clock budget for the training itself, in seconds (null: none). The run ends at the
   * budget or at `steps`, whichever comes first, and the learning-rate schedule follows whichever
   * is further along, so the run still decays to the end (lib/ml's TrainConfig.timeBudgetS).
   */
  timeBudgetS: number | null;
};

export type TrainingPresetInfo = {
  name: "quick-cpu" | "fixmatch-paper";
  label: string;
  description: string;
  defaults: TrainingSettings;
};

export const TRAINING_PRESETS: readonly TrainingPresetInfo[] = [
  {
    name: "quick-cpu",
    label: "Quick (CPU)",
    description: "Compact ResNet at 32 px, B=16, μ=3, 500 steps, pseudo-labels first: about 6–8 min on a CPU core.",
    defaults: { model: "resnet-16x1", inputSize: 32, steps: 500, batchSize: 16, mu: 3, threshold: 0.95, distributionAlignment: false, timeBudgetS: null },
  },
  {
    name: "fixmatch-paper",
    label: "Full FixMatch (GPU)",
    description: "The paper's WRN-28-2, B=64, μ=7, 2^20 steps: for a GPU worker (tfjs-node-gpu).",
    defaults: { model: "wrn-28-2", inputSize: 32, steps: 2 ** 20, batchSize: 64, mu: 7, threshold: 0.95, distributionAlignment: false, timeBudgetS: null },
  },
];

export const TRAINING_PRESET_NAMES = ["quick-cpu", "fixmatch-paper"] as const satisfies readonly TrainingPresetInfo["name"][];

export function presetInfo(name: string): TrainingPresetInfo | undefined {
  return TRAINING_PRESETS.find((p) => p.name === name);
}

export function modelChoice(name: string) {
  return MODEL_CHOICES.find((m) => m.name === name);
}
